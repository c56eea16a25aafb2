#!/usr/bin/env bash
# Runs inside the D-Bus session .ci/run opens: starts each service the tests talk
# to, then runs the command it is given (.ci/run gives `make test`). Each service
# has a start_ function below; a new service gets one and is started with the rest.
set -euo pipefail
cd "$(dirname "$0")/.."

if (($# == 0)); then
    echo "usage: dbus-run-session -- .ci/session.sh COMMAND [ARG...]" >&2
    exit 2
fi

scratch=$(mktemp -d)
daemons=()
# Stop the daemons started below (Xvfb, dunst), then remove their files.
stop_daemons() {
    if ((${#daemons[@]})); then
        kill "${daemons[@]}" 2>/dev/null || true
        wait "${daemons[@]}" 2>/dev/null || true
    fi
    rm -rf "$scratch"
}
trap stop_daemons EXIT

# Wait until a D-Bus name has an owner on the session bus, or fail after 10 s.
wait_for_name() {
    for _ in $(seq 100); do
        if dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
            org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null |
            grep -q "boolean true"; then
            return 0
        fi
        sleep 0.1
    done
    echo ".ci/session.sh: $1 did not appear on the session bus" >&2
    return 1
}

# The OS keyring: gnome-keyring's Secret Service with a throwaway login collection,
# created unlocked with a random password, so no test ever meets an unlock prompt.
start_keyring() {
    mkdir -m 700 "$scratch/keyring" "$scratch/runtime"
    head -c 24 /dev/urandom | base64 |
        XDG_DATA_HOME="$scratch/keyring" XDG_RUNTIME_DIR="$scratch/runtime" \
            gnome-keyring-daemon --unlock --components=secrets >/dev/null
    wait_for_name org.freedesktop.secrets
}

# Desktop notifications: dunst on a virtual X display (Xvfb on the first free one,
# which it writes to fd 3 once it accepts clients), so a test can read back from
# dunst's history what arrived. dunst reads an empty config, so a dunstrc of the
# user's changes nothing.
start_notifications() {
    Xvfb -displayfd 3 -nolisten tcp 3>"$scratch/display" >"$scratch/xvfb.log" 2>&1 &
    daemons+=($!)
    for _ in $(seq 100); do
        if [[ -s $scratch/display ]]; then
            break
        fi
        sleep 0.1
    done
    if [[ ! -s $scratch/display ]]; then
        echo ".ci/session.sh: Xvfb did not start:" >&2
        cat "$scratch/xvfb.log" >&2
        return 1
    fi
    export DISPLAY=":$(<"$scratch/display")"
    : >"$scratch/dunstrc"
    dunst -config "$scratch/dunstrc" >"$scratch/dunst.log" 2>&1 &
    daemons+=($!)
    wait_for_name org.freedesktop.Notifications
}

start_keyring
start_notifications

"$@"
