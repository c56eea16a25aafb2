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
trap 'rm -rf "$scratch"' EXIT

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

start_keyring

"$@"
