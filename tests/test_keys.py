"""API keys in the OS keyring: ``qoins keys``, the time limit, and source secrets.

The keyring tests that need a real Secret Service use the one on the session bus
(gnome-keyring under ``dbus-run-session``, as ``.ci/run`` starts it) or start their
own; without one they skip, and under ``QOINS_REQUIRE_SERVICES=1`` they fail. The
others use the in-memory and hanging backends of :mod:`tests.keyrings`. Every test
checks that the key itself shows up nowhere: not on stdout or stderr, not in an
error, not in a log record.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import secretstorage
from keyring.backends import SecretService, fail, null
from secretstorage.exceptions import SecretStorageException

from qoins_tui import keys
from qoins_tui.cli import main
from qoins_tui.errors import KeyringUnavailable, MissingSecretError, QoinsError
from tests.conftest import make_settings, require_service
from tests.keyrings import (
    KEYED,
    HangingKeyring,
    MemoryKeyring,
    register_keyed,
    use_keyring,
    wait_for_keyring_calls,
)

QOINS = Path(sysconfig.get_path("scripts")) / "qoins"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    backend = MemoryKeyring()
    use_keyring(monkeypatch, backend)
    return backend


@pytest.fixture
def hanging(monkeypatch: pytest.MonkeyPatch) -> Iterator[HangingKeyring]:
    backend = HangingKeyring()
    use_keyring(monkeypatch, backend)
    monkeypatch.setattr(keys, "TIMEOUT_S", 0.3)
    yield backend
    backend.release()


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """Standard input that is not a terminal, holding ``text``."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """``text`` as the config every ``main`` call of the test reads."""
    register_keyed(monkeypatch)
    path = tmp_path / "config.yml"
    path.write_text("budget:\n  timezone: UTC\n" + text)
    monkeypatch.setenv("QOINS_CONFIG", str(path))


def secret_service() -> str | None:
    """Why no Secret Service on the session bus can hold test keys, or None."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return "no D-Bus session bus; run the tests inside dbus-run-session"
    try:
        with closing(secretstorage.dbus_init()) as bus:
            if not secretstorage.check_service_availability(bus):
                return (
                    "no Secret Service on the session bus; start "
                    "gnome-keyring-daemon --unlock --components=secrets"
                )
            if secretstorage.Collection(bus).is_locked():
                return "the Secret Service's default collection is locked"
    except SecretStorageException as exc:
        return f"the Secret Service cannot be used ({exc})"
    return None


# -- (a) through a real Secret Service ------------------------------------------------


@pytest.fixture
def real_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Secret Service on the session bus, and a key name no one else uses."""
    why = secret_service()
    require_service("A Secret Service (gnome-keyring)", why is None, why or "")
    backend = SecretService.Keyring()
    use_keyring(monkeypatch, backend)
    name = f"qoins-test-{uuid.uuid4().hex[:12]}"
    yield name
    if backend.get_password(keys.SERVICE, name) is not None:
        backend.delete_password(keys.SERVICE, name)


def test_keys_set_list_delete_through_the_secret_service(
    real_keyring: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = real_keyring
    secret = f"sk-test-{uuid.uuid4().hex}"
    # A real type: the command in its own process knows no test-only ones.
    config(
        tmp_path,
        monkeypatch,
        f"services:\n  {name}:\n    type: openai\n    api_key: ${{TEST_KEY}}\n",
    )
    monkeypatch.setenv("TEST_KEY", "from-the-environment")

    # The command as a script runs it, in its own process: the key on stdin.
    stored = subprocess.run(
        [str(QOINS), "keys", "set", name],
        input=secret + "\n",
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout == ""
    assert stored.stderr == (
        f"qoins: stored the key of {name} in the OS keyring (service qoins, "
        f"user {name}).\n"
    )
    assert keys.get_key(name) == secret
    assert keys.stored_names() == [name]
    assert keys.source_secrets(name, ("api_key",), {"api_key": "${TEST_KEY}"}) == {
        "api_key": secret
    }

    assert main(["keys", "list"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{name}  keyring (wins over ${{TEST_KEY}})\n"
    assert err == ""
    assert main(["keys", "list", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["keys"] == [
        {
            "name": name,
            "source": name,
            "field": "api_key",
            "from": "keyring",
            "in_keyring": True,
            "variables": ["TEST_KEY"],
            "variables_set": True,
        }
    ]

    assert main(["keys", "delete", name]) == 0
    out, err = capsys.readouterr()
    assert err == f"qoins: deleted the key of {name} from the OS keyring.\n"
    assert keys.get_key(name) is None
    assert keys.stored_names() == []
    assert main(["keys", "delete", name]) == 0
    out, err = capsys.readouterr()
    assert "nothing to delete" in err
    assert secret not in stored.stdout + stored.stderr + out + err


def test_a_locked_collection_is_reported_without_a_prompt(tmp_path: Path) -> None:
    """A session of its own: gnome-keyring unlocked, then its collection locked."""
    tools = ("dbus-run-session", "dbus-send", "gnome-keyring-daemon")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    require_service(
        "gnome-keyring with dbus-run-session",
        not missing,
        f"{', '.join(missing)} not found; install the Debian packages dbus and "
        "gnome-keyring",
    )
    probe = (
        "import json, time\n"
        "from contextlib import closing\n"
        "import secretstorage\n"
        "from qoins_tui import keys\n"
        "from qoins_tui.errors import KeyringUnavailable\n"
        "with closing(secretstorage.dbus_init()) as bus:\n"
        "    secretstorage.Collection(bus).lock()\n"
        "started = time.monotonic()\n"
        "try:\n"
        "    keys.set_key('openai', 'sk-locked')\n"
        "    error = None\n"
        "except KeyringUnavailable as exc:\n"
        "    error = exc.message\n"
        "print(json.dumps({'error': error, 'elapsed_s': time.monotonic() - started}))\n"
    )
    session = (
        "printf %s throwaway | gnome-keyring-daemon --unlock --components=secrets "
        ">/dev/null\n"
        "for _ in $(seq 100); do\n"
        "  dbus-send --session --print-reply --dest=org.freedesktop.DBus / "
        "org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets "
        '| grep -q "boolean true" && break\n'
        "  sleep 0.1\n"
        "done\n"
        'exec "$0" -c "$1"\n'
    )
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    env.update(XDG_RUNTIME_DIR=str(runtime), PYTHONPATH=str(REPO))
    result = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", session, sys.executable, probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["error"].startswith('The keyring collection "Login" is locked')
    assert "does not ask to unlock it" in report["error"]
    assert '"${VAR}" for it in config.yml (api_key under a source' in report["error"]
    assert report["elapsed_s"] < 2


# -- (b) no keyring backend ----------------------------------------------------------


def test_no_backend_exits_2_at_once_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_keyring(monkeypatch, fail.Keyring())
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    stdin(monkeypatch, "sk-nowhere\n")

    started = time.monotonic()
    code = main(["keys", "set", "openai"])

    assert time.monotonic() - started < 1
    assert code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "qoins: Keyring unavailable: No OS keyring is available: there is no D-Bus "
        "session bus (DBUS_SESSION_BUS_ADDRESS is not set), so no Secret Service can "
        "be reached. Install and start a Secret Service such as gnome-keyring (on a "
        "desktop it starts at login; on a server, run QOINs inside dbus-run-session "
        "after gnome-keyring-daemon --unlock --components=secrets), or, for cron and "
        "servers, keep the secret in an environment variable and write "
        '"${VAR}" for it in config.yml (api_key under a source, password, '
        "webhook_url or url under a notification channel).\n"
    )


def test_no_backend_in_a_fresh_process_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    started = time.monotonic()
    result = subprocess.run(
        [str(QOINS), "keys", "set", "openai"],
        input="sk-nowhere\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert time.monotonic() - started < 15
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "qoins: Keyring unavailable: No OS keyring is available: "
        "PYTHON_KEYRING_BACKEND is set to keyring.backends.fail.Keyring."
    )
    assert "Traceback" not in result.stderr and "sk-nowhere" not in result.stderr


def test_the_null_backend_is_reported_as_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_keyring(monkeypatch, null.Keyring())
    with pytest.raises(KeyringUnavailable, match="switched off"):
        keys.set_key("openai", "sk-dropped")


def test_no_secret_service_on_the_bus_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_keyring(monkeypatch, fail.Keyring())
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    with pytest.raises(KeyringUnavailable) as caught:
        keys.get_key("openai")
    assert caught.value.message.startswith(
        "No OS keyring is available: no Secret Service answers on the D-Bus "
        "session bus."
    )


# -- (c) a keyring that does not answer ----------------------------------------------


def test_a_hanging_keyring_times_out_then_fails_at_once(
    hanging: HangingKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    with pytest.raises(KeyringUnavailable) as caught:
        keys.get_key("openai")
    assert time.monotonic() - started < 1.5
    assert caught.value.message.startswith(
        "The OS keyring did not answer within 0.3 s: its Secret Service on D-Bus "
        "hangs or waits for an unlock prompt nobody answers."
    )

    # The call still hangs: the next one says so without waiting again.
    stdin(monkeypatch, "sk-later\n")
    started = time.monotonic()
    assert main(["keys", "set", "openai"]) == 2
    assert time.monotonic() - started < 0.2
    out, err = capsys.readouterr()
    assert err.startswith(
        "qoins: Keyring unavailable: The OS keyring has not answered a call QOINs "
        "made earlier, which is still waiting."
    )
    assert "sk-later" not in out + err
    assert hanging.calls == 1

    hanging.release()
    assert keys.get_key("openai") is None
    assert hanging.calls == 2


def test_a_bus_that_never_answers_times_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real Secret Service backend talking to a socket that accepts and is silent."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(str(tmp_path / "bus"))
        silent.listen()
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/bus")
        use_keyring(monkeypatch, SecretService.Keyring())
        monkeypatch.setattr(keys, "TIMEOUT_S", 0.3)
        started = time.monotonic()
        with pytest.raises(KeyringUnavailable, match=r"did not answer within 0\.3 s"):
            keys.get_key("openai")
        assert time.monotonic() - started < 1.5
    wait_for_keyring_calls()


# -- (d) which secret a source runs with ---------------------------------------------


def test_the_keyring_wins_over_the_variable(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory.keys[("qoins", "openai")] = "sk-keyring"
    monkeypatch.setenv("OPENAI_KEY", "sk-environment")
    secrets = keys.source_secrets("openai", ("api_key",), {"api_key": "${OPENAI_KEY}"})
    assert secrets == {"api_key": "sk-keyring"}


def test_the_variable_is_used_when_the_keyring_has_none(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_KEY", "sk-environment")
    secrets = keys.source_secrets("openai", ("api_key",), {"api_key": "${OPENAI_KEY}"})
    assert secrets == {"api_key": "sk-environment"}


def test_the_variable_is_used_quietly_when_there_is_no_keyring(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    use_keyring(monkeypatch, fail.Keyring())
    monkeypatch.setenv("OPENAI_KEY", "sk-environment")
    with caplog.at_level(logging.DEBUG, logger="qoins_tui"):
        secrets = keys.source_secrets(
            "openai", ("api_key",), {"api_key": "${OPENAI_KEY}"}
        )
    assert secrets == {"api_key": "sk-environment"}
    assert [r.levelname for r in caplog.records] == ["DEBUG", "DEBUG"]
    assert "the keyring cannot be used" in caplog.records[0].getMessage()
    assert caplog.records[1].getMessage() == "openai: api_key from config.yml"


def test_a_second_secret_is_name_dot_field(memory: MemoryKeyring) -> None:
    memory.keys[("qoins", "datadog")] = "dd-api"
    memory.keys[("qoins", "datadog.app_key")] = "dd-app"
    assert keys.source_secrets("datadog", ("api_key", "app_key"), {}) == {
        "api_key": "dd-api",
        "app_key": "dd-app",
    }


def test_neither_keyring_nor_setting_says_how_to_give_the_key(
    memory: MemoryKeyring,
) -> None:
    with pytest.raises(MissingSecretError) as caught:
        keys.source_secrets("openai", ("api_key",), {})
    assert caught.value.message == (
        'no api_key stored. Run "qoins keys set openai" to keep it in the OS '
        'keyring, or set api_key: "${VAR}" under services.openai in config.yml with '
        "the key in that environment variable."
    )


def test_an_unset_variable_names_it_and_the_keyring(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_KEY", raising=False)
    with pytest.raises(MissingSecretError) as caught:
        keys.source_secrets("openai", ("api_key",), {"api_key": "${OPENAI_KEY}"})
    assert "uses ${OPENAI_KEY}, which is not set" in caught.value.message
    assert caught.value.message.endswith(
        'Or keep the key in the OS keyring: "qoins keys set openai".'
    )


def test_no_keyring_and_no_setting_gives_the_keyring_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_keyring(monkeypatch, fail.Keyring())
    with pytest.raises(KeyringUnavailable) as caught:
        keys.source_secrets("openai", ("api_key",), {})
    assert caught.value.message.startswith(
        "no api_key: services.openai in config.yml sets none, and no OS keyring is "
        "available"
    )


def test_no_keyring_and_an_unset_variable_names_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_keyring(monkeypatch, fail.Keyring())
    monkeypatch.delenv("OPENAI_KEY", raising=False)
    with pytest.raises(MissingSecretError) as caught:
        keys.source_secrets("openai", ("api_key",), {"api_key": "${OPENAI_KEY}"})
    assert "${OPENAI_KEY}, which is not set" in caught.value.message
    assert "The OS keyring cannot be used either: No OS keyring" in (
        caught.value.message
    )


def test_an_empty_variable_is_no_key(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_KEY", "")
    with pytest.raises(MissingSecretError, match="comes out empty"):
        keys.source_secrets("openai", ("api_key",), {"api_key": "${OPENAI_KEY}"})


def test_no_secret_keys_asks_the_keyring_nothing(hanging: HangingKeyring) -> None:
    assert keys.source_secrets("claude_code", (), {"billing": "plan"}) == {}
    assert hanging.calls == 0


def test_a_key_never_reaches_a_message_a_log_or_a_repr(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-very-secret-value"

    class Leaky(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise RuntimeError(f"cannot store {password} for {username}")

    use_keyring(monkeypatch, Leaky())
    with (
        caplog.at_level(logging.DEBUG, logger="qoins_tui"),
        pytest.raises(KeyringUnavailable) as caught,
    ):
        keys.set_key("openai", secret)
    assert caught.value.message.startswith(
        "The OS keyring failed (RuntimeError: cannot store … for openai)."
    )
    memory = MemoryKeyring()
    use_keyring(monkeypatch, memory)
    with caplog.at_level(logging.DEBUG, logger="qoins_tui"):
        keys.set_key("openai", secret)
        keys.source_secrets("openai", ("api_key",), {})
        report = keys.key_report(make_settings())
    assert memory.keys == {("qoins", "openai"): secret}
    assert report.keys == [keys.KeyStatus("openai", "keyring", in_keyring=True)]
    shown = [r.getMessage() for r in caplog.records] + [repr(report)]
    assert shown and not any(secret in text for text in shown)


# -- qoins keys set, list and delete -------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("sk-abc\n", "sk-abc"),
        ("sk-abc\r\n", "sk-abc"),
        ("sk-abc", "sk-abc"),
        (" sk-abc\t \n", "sk-abc"),
    ],
)
def test_keys_set_reads_stdin_less_one_newline(
    memory: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    typed: str,
    stored: str,
) -> None:
    stdin(monkeypatch, typed)
    assert main(["keys", "set", "openai"]) == 0
    assert memory.keys == {("qoins", "openai"): stored}
    assert keys.stored_names() == ["openai"]
    out, err = capsys.readouterr()
    assert out == ""
    assert "sk-abc" not in err


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("", "Empty key: No key stored for openai: the key is empty."),
        ("\n", "Empty key: No key stored for openai: the key is empty."),
        ("  \n", "Empty key: No key stored for openai: the key is empty."),
        ("sk-abc\n\n", "Invalid key: No key stored for openai: the key has more"),
    ],
)
def test_keys_set_refuses_an_empty_or_many_line_key(
    memory: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    typed: str,
    why: str,
) -> None:
    stdin(monkeypatch, typed)
    assert main(["keys", "set", "openai"]) == 2
    assert memory.keys == {}
    assert keys.stored_names() == []
    assert capsys.readouterr().err.startswith(f"qoins: {why}")


def test_keys_set_at_a_terminal_asks_without_echo(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return "sk-typed"

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr("getpass.getpass", getpass)
    assert main(["keys", "set", "anthropic"]) == 0
    assert prompts == ["Key for anthropic (not shown): "]
    assert memory.keys == {("qoins", "anthropic"): "sk-typed"}


def test_keys_set_refuses_a_name_that_cannot_be_one(
    memory: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stdin(monkeypatch, "sk-abc\n")
    assert main(["keys", "set", "open ai"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qoins: Invalid key name: A key's name is the source's name")
    assert "open ai" not in err
    assert memory.keys == {}
    for name in ("openai\n", "", "openai/work", ".hidden"):
        with pytest.raises(QoinsError, match="A key's name"):
            keys.check_name(name)


def test_keys_list_says_where_each_key_comes_from(
    memory: MemoryKeyring,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config(
        tmp_path,
        monkeypatch,
        "services:\n"
        f"  alpha: {{type: {KEYED}}}\n"
        f"  beta: {{type: {KEYED}, api_key: '${{BETA_KEY}}'}}\n"
        f"  gamma: {{type: {KEYED}, api_key: '${{GAMMA_KEY}}'}}\n"
        f"  delta: {{type: {KEYED}}}\n"
        f"  epsilon: {{type: {KEYED}, api_key: sk-in-the-file}}\n"
        "  claude_code: {billing: plan}\n",
    )
    monkeypatch.setenv("BETA_KEY", "sk-beta")
    monkeypatch.delenv("GAMMA_KEY", raising=False)
    for name in ("alpha", "notify.slack", "retired"):
        stdin(monkeypatch, f"sk-{name}\n")
        assert main(["keys", "set", name]) == 0
    capsys.readouterr()

    assert main(["keys", "list"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "alpha         keyring",
        "beta          ${BETA_KEY} (set)",
        'delta         missing: run "qoins keys set delta"',
        "epsilon       written in config.yml (the keyring or a ${VAR} keeps it safer)",
        'gamma         missing: ${GAMMA_KEY} is not set; or run "qoins keys set gamma"',
        "notify.slack  keyring (no channel in config.yml uses it)",
        "retired       keyring (no source in config.yml uses it)",
    ]
    assert err == ""
    assert main(["keys", "list", "--json"]) == 0
    out, err = capsys.readouterr()
    listed = json.loads(out)
    assert listed["keyring"] == {"available": True, "error": None}
    assert [(k["name"], k["from"]) for k in listed["keys"]] == [
        ("alpha", "keyring"),
        ("beta", "variable"),
        ("delta", "missing"),
        ("epsilon", "config"),
        ("gamma", "missing"),
        ("notify.slack", "keyring"),
        ("retired", "keyring"),
    ]
    assert listed["keys"][4] == {
        "name": "gamma",
        "source": "gamma",
        "field": "api_key",
        "from": "missing",
        "in_keyring": False,
        "variables": ["GAMMA_KEY"],
        "variables_set": False,
    }
    assert not any(f"sk-{name}" in out for name in ("alpha", "beta", "in-the-file"))


def test_keys_list_names_the_secrets_of_notification_channels(
    memory: MemoryKeyring,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config(
        tmp_path,
        monkeypatch,
        "notifications:\n"
        "  mail:\n"
        "    smtp_server: smtp.example.com\n"
        "    username: alerts@example.com\n"
        "  relay:\n"
        "    smtp_server: 127.0.0.1\n"
        "    secure: none\n"
        "    username: alerts@example.com\n"
        "  team:\n"
        "    webhook_url: '${TEAM_HOOK}'\n"
        "  hook:\n"
        "    type: apprise\n",
    )
    monkeypatch.setenv("TEAM_HOOK", "https://hooks.slack.com/services/T/B/X")
    for name in ("notify.team", "notify.hook"):
        stdin(monkeypatch, "secret\n")
        assert main(["keys", "set", name]) == 0
    capsys.readouterr()

    assert main(["keys", "list"]) == 0
    out, err = capsys.readouterr()
    # The relay sends without TLS and needs no password; the team's ${TEAM_HOOK},
    # written in config.yml, wins over the keyring's copy.
    assert out.splitlines() == [
        "notify.hook  keyring (notifications.hook.url)",
        'notify.mail  missing: run "qoins keys set notify.mail" '
        "(notifications.mail.password)",
        "notify.team  ${TEAM_HOOK} (set) (notifications.team.webhook_url)",
    ]
    assert err == ""

    stdin(monkeypatch, "secret\n")
    assert main(["keys", "set", "notify.mail"]) == 0
    assert capsys.readouterr().err.count("note:") == 0
    stdin(monkeypatch, "secret\n")
    assert main(["keys", "set", "notify.mial"]) == 0
    assert "no notification channel mial" in capsys.readouterr().err


def test_keys_list_without_a_keyring_still_lists_the_variables(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config(
        tmp_path,
        monkeypatch,
        f"services:\n  alpha: {{type: {KEYED}}}\n"
        f"  beta: {{type: {KEYED}, api_key: '${{BETA_KEY}}'}}\n",
    )
    monkeypatch.setenv("BETA_KEY", "sk-beta")
    use_keyring(monkeypatch, fail.Keyring())

    assert main(["keys", "list"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "alpha  unknown: the keyring cannot be read",
        "beta   ${BETA_KEY} (set)",
    ]
    assert err.startswith("qoins: the keyring cannot be read: No OS keyring")
    assert main(["keys", "list", "--json"]) == 0
    listed: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert listed["keyring"]["available"] is False
    assert listed["keys"][0]["in_keyring"] is None


def test_keys_list_with_nothing_to_list_says_so(
    memory: MemoryKeyring, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "list"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "qoins: no keys: no source in config.yml takes one, and QOINs stored none.\n"
    )


def test_keys_list_with_nothing_to_list_still_checks_the_keyring(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_keyring(monkeypatch, fail.Keyring())
    assert main(["keys", "list", "--json"]) == 0
    out, err = capsys.readouterr()
    listed = json.loads(out)
    assert listed["keys"] == []
    assert listed["keyring"]["available"] is False
    assert listed["keyring"]["error"].startswith("No OS keyring is available")
    assert err.startswith("qoins: the keyring cannot be read: No OS keyring")


def test_keys_delete_removes_the_key_and_its_name(
    memory: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys.set_key("openai", "sk-abc")
    assert main(["keys", "delete", "openai"]) == 0
    assert memory.keys == {}
    assert keys.stored_names() == []
    assert main(["keys", "delete", "openai"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "qoins: deleted the key of openai from the OS keyring.",
        "qoins: the OS keyring holds no key for openai; nothing to delete.",
    ]


def test_a_damaged_names_file_lists_nothing_and_is_rewritten(
    memory: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    path = Path(os.environ["XDG_DATA_HOME"]) / "qoins" / "key-names.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="qoins_tui"):
        assert keys.stored_names() == []
    assert "cannot be read" in caplog.text
    keys.set_key("openai", "sk-abc")
    assert json.loads(path.read_text()) == ["openai"]


@pytest.mark.parametrize("action", ["set", "list", "delete"])
def test_every_keys_action_has_help(
    action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["keys", action, "--help"])
    assert done.value.code == 0
    assert f"usage: qoins keys {action}" in capsys.readouterr().out


def test_keys_without_an_action_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["keys"])
    assert done.value.code == 2
    assert "ACTION" in capsys.readouterr().err


def test_keys_help_lists_its_actions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["keys", "--help"])
    out = capsys.readouterr().out
    for action in (
        "store a source's key in the keyring",
        "every key and where it comes from",
        "remove a key from the keyring",
    ):
        assert action in out


def test_keys_set_under_a_name_no_source_uses_says_so(
    memory: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yml"
    config.write_text("services:\n  openai: {}\n  claude_code: {}\n", encoding="utf-8")
    stdin(monkeypatch, "sk-admin-typo")

    assert main(["--config", str(config), "keys", "set", "opnai"]) == 0

    assert memory.keys == {("qoins", "opnai"): "sk-admin-typo"}
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "qoins: note: no source in config.yml takes a key named opnai (those that "
        "do: openai); check the name, or add the source under services."
    )

    stdin(monkeypatch, "sk-admin-right")
    assert main(["--config", str(config), "keys", "set", "openai"]) == 0
    assert "note:" not in capsys.readouterr().err
