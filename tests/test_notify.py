"""Alert deliveries through real local receivers: the text that arrived is asserted.

E-mail goes to an aiosmtpd server on 127.0.0.1 (AUTH allowed without TLS, so the
login can be checked), Slack webhooks and apprise ``json://`` URLs to a stdlib HTTP
server on 127.0.0.1, and desktop notices to dunst on the D-Bus session bus (as
``.ci/session.sh`` starts it under Xvfb), read back from dunst's history. Without
dunst the desktop test skips, and under ``QOINS_REQUIRE_SERVICES=1`` it fails. The
failures are real too: a port nothing listens on, a listener that never answers, a
D-Bus socket that does not exist. No error may carry a password or a token.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from apprise.plugins.slack import NotifySlack

from qoins_tui import notify
from qoins_tui.config import Settings, parse_config
from qoins_tui.errors import KeyringUnavailable
from qoins_tui.notify import DeliveryError, Notice, deliver
from tests.conftest import require_service

URGENT = Notice(
    "QOINs URGENT: 90% Budget Used",
    "Spent $90.00 of $100.00 (90%) in December.\n"
    "Projected month-end: $120.00, over budget.\n"
    "Top service: claude_code $54.00",
    "critical",
)
PASSWORD = "p@ss:w/rd?&%Zq81"
"""Characters a URL must quote, so the quoted forms are checked as well."""
SLACK_PATH = "/services/T0QOINS01/B0QOINS02/XQoinsWebhookSecret7f3a"
SLACK_TOKENS = ("T0QOINS01", "B0QOINS02", "XQoinsWebhookSecret7f3a")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def settings(text: str) -> Settings:
    return parse_config(text)


def no_keyring(user: str) -> str | None:
    raise AssertionError(f"the keyring was asked for {user} though config has it")


# -- the receivers -------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the local SMTP server received: messages and AUTH logins."""

    port: int
    accept_login: bool = True
    messages: list[Envelope] = field(default_factory=list)
    logins: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.messages.append(envelope)
        return "250 OK"

    def authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((mechanism, auth_data.login, auth_data.password))
        # handled=False: aiosmtpd answers 535 itself.
        return AuthResult(success=self.accept_login, handled=False)

    def message(self, index: int) -> EmailMessage:
        envelope = self.messages[index]
        assert isinstance(envelope.original_content, bytes)
        parsed = email.message_from_bytes(
            envelope.original_content, policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        return parsed


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(free_port())
    server = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    server.start()
    yield box
    server.stop()


@dataclass
class Request:
    path: str
    payload: dict[str, Any]


class Webhooks:
    """A local HTTP server that records each POST's path and JSON body and answers
    with ``status`` and ``answer``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.status = 200
        self.answer = b"ok"
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length))
                hooks.requests.append(Request(self.path, payload))
                self.send_response(hooks.status)
                self.send_header("Content-Length", str(len(hooks.answer)))
                self.end_headers()
                self.wfile.write(hooks.answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhooks() -> Iterator[Webhooks]:
    hooks = Webhooks()
    yield hooks
    hooks.close()


@pytest.fixture
def slack(webhooks: Webhooks, monkeypatch: pytest.MonkeyPatch) -> Webhooks:
    """Slack's webhook host replaced by the local server; the path stays Slack's."""
    monkeypatch.setattr(
        NotifySlack, "webhook_url", f"http://127.0.0.1:{webhooks.port}/services"
    )
    return webhooks


@pytest.fixture
def silent() -> Iterator[socket.socket]:
    """A listener on 127.0.0.1 that takes connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener


# -- e-mail --------------------------------------------------------------------------


def test_email_arrives_with_subject_body_and_login(
    mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QOINS_TEST_SMTP_PASSWORD", PASSWORD)
    config = settings(
        "notifications:\n"
        "  mail:\n"
        "    type: email\n"
        "    smtp_server: 127.0.0.1\n"
        f"    port: {mailbox.port}\n"
        "    secure: none\n"
        "    username: qoins@example.com\n"
        '    password: "${QOINS_TEST_SMTP_PASSWORD}"\n'
        "    to: team@example.com, lead@example.com\n"
    )

    deliver("mail", URGENT, config, secret=no_keyring)

    assert mailbox.logins == [("PLAIN", b"qoins@example.com", PASSWORD.encode())]
    # One message for each address, over the one login.
    assert [(e.mail_from, e.rcpt_tos) for e in mailbox.messages] == [
        ("qoins@example.com", ["team@example.com"]),
        ("qoins@example.com", ["lead@example.com"]),
    ]
    message = mailbox.message(0)
    assert message["Subject"] == "QOINs URGENT: 90% Budget Used"
    assert message["From"] == "qoins@example.com"
    assert message["To"] == "team@example.com"
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content().splitlines() == [
        "Spent $90.00 of $100.00 (90%) in December.",
        "Projected month-end: $120.00, over budget.",
        "Top service: claude_code $54.00",
    ]


def test_email_without_login_goes_from_and_to_the_addresses_written(
    mailbox: Mailbox,
) -> None:
    config = settings(
        "notifications:\n"
        "  mail:\n"
        "    smtp_server: 127.0.0.1\n"
        f"    port: {mailbox.port}\n"
        "    secure: none\n"
        "    from: qoins@example.com\n"
        "    to: me@example.com\n"
    )

    deliver("mail", Notice("QOINs: 75% Budget Used", "Spent $75.00", "info"), config)

    assert mailbox.logins == []
    (envelope,) = mailbox.messages
    assert (envelope.mail_from, envelope.rcpt_tos) == (
        "qoins@example.com",
        ["me@example.com"],
    )
    assert mailbox.message(0)["Subject"] == "QOINs: 75% Budget Used"


def test_email_password_comes_from_the_keyring_when_config_leaves_it_out(
    mailbox: Mailbox,
) -> None:
    config = settings(
        "notifications:\n"
        "  mail:\n"
        "    smtp_server: 127.0.0.1\n"
        f"    port: {mailbox.port}\n"
        "    secure: none\n"
        "    username: qoins@example.com\n"
    )
    asked: list[str] = []

    def keyring(user: str) -> str:
        asked.append(user)
        return PASSWORD

    deliver("mail", URGENT, config, secret=keyring)

    assert asked == ["notify.mail"]
    assert mailbox.logins == [("PLAIN", b"qoins@example.com", PASSWORD.encode())]
    # `to` defaults to the user name.
    assert mailbox.messages[0].rcpt_tos == ["qoins@example.com"]


def test_email_without_tls_or_password_goes_without_a_login(
    mailbox: Mailbox,
) -> None:
    # A local relay: the user name is the sender, and neither the entry nor the
    # keyring (unreadable here) has a password.
    config = settings(
        "notifications:\n"
        "  mail:\n"
        "    smtp_server: 127.0.0.1\n"
        f"    port: {mailbox.port}\n"
        "    secure: none\n"
        "    username: qoins@example.com\n"
        "    to: me@example.com\n"
    )

    def unreadable(user: str) -> str | None:
        raise KeyringUnavailable("No OS keyring is available.")

    deliver("mail", URGENT, config, secret=unreadable)

    assert mailbox.logins == []
    (envelope,) = mailbox.messages
    assert (envelope.mail_from, envelope.rcpt_tos) == (
        "qoins@example.com",
        ["me@example.com"],
    )


def test_refused_login_names_the_smtp_answer_never_the_password(
    mailbox: Mailbox,
) -> None:
    mailbox.accept_login = False
    config = settings(
        "notifications:\n"
        "  mail:\n"
        "    smtp_server: 127.0.0.1\n"
        f"    port: {mailbox.port}\n"
        "    secure: none\n"
        "    username: qoins@example.com\n"
        f'    password: "{PASSWORD}"\n'
    )

    with pytest.raises(DeliveryError) as caught:
        deliver("mail", URGENT, config)

    text = str(caught.value)
    assert text.startswith(
        f"mail: e-mail to qoins@example.com through 127.0.0.1:{mailbox.port} failed: "
    )
    assert "535" in text
    assert "Authentication credentials invalid" in text
    assert "(config line 2)" in text
    for form in (PASSWORD, "p%40ss%3Aw%2Frd%3F%26%25Zq81", "Zq81"):
        assert form not in text
    assert mailbox.messages == []


def test_email_to_a_closed_port_fails_at_once_with_the_reason() -> None:
    port = free_port()
    config = settings(
        "notifications:\n"
        "  mail:\n"
        "    smtp_server: 127.0.0.1\n"
        f"    port: {port}\n"
        "    secure: none\n"
        "    from: qoins@example.com\n"
        "    to: me@example.com\n"
    )

    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        deliver("mail", URGENT, config)

    assert time.monotonic() - started < notify.TIMEOUT_S
    text = str(caught.value)
    assert text.startswith(
        f"mail: e-mail to me@example.com through 127.0.0.1:{port} failed: "
        'Connection error while submitting email to "127.0.0.1"; [Errno '
    )
    assert text.endswith(
        "] Connection refused. Check notifications.mail (config line 2)."
    )


# -- Slack ---------------------------------------------------------------------------


def test_slack_webhook_receives_title_body_and_channel(slack: Webhooks) -> None:
    config = settings(
        "notifications:\n"
        "  team:\n"
        "    type: slack\n"
        f"    webhook_url: https://hooks.slack.com{SLACK_PATH}\n"
        '    channel: "#budget-alerts"\n'
    )

    deliver("team", URGENT, config, secret=no_keyring)

    (request,) = slack.requests
    assert request.path == SLACK_PATH
    assert request.payload["channel"] == "#budget-alerts"
    (attachment,) = request.payload["attachments"]
    assert attachment["title"] == "QOINs URGENT: 90% Budget Used"
    assert attachment["text"] == (
        "Spent $90.00 of $100.00 (90%) in December.\n"
        "Projected month-end: $120.00, over budget.\n"
        "Top service: claude_code $54.00"
    )


def test_slack_webhook_from_the_keyring_without_a_channel(slack: Webhooks) -> None:
    config = settings("notifications:\n  team:\n    type: slack\n")

    deliver(
        "team",
        Notice("QOINs: 95% Budget Used", "Spent $95.00", "warning"),
        config,
        secret={"notify.team": f"https://hooks.slack.com{SLACK_PATH}"}.get,
    )

    (request,) = slack.requests
    assert request.path == SLACK_PATH
    assert "channel" not in request.payload
    assert request.payload["attachments"][0]["title"] == "QOINs: 95% Budget Used"
    assert request.payload["attachments"][0]["text"] == "Spent $95.00"


def test_slack_refusal_names_the_status_never_the_webhook_tokens(
    slack: Webhooks, caplog: pytest.LogCaptureFixture
) -> None:
    # As `qoins -v` runs: apprise and urllib3 log whole URLs at debug level.
    caplog.set_level(logging.DEBUG)
    slack.status, slack.answer = 403, b"invalid_token"
    config = settings(
        "notifications:\n"
        "  team:\n"
        f"    webhook_url: https://hooks.slack.com{SLACK_PATH}\n"
    )

    with pytest.raises(DeliveryError) as caught:
        deliver("team", URGENT, config)

    text = str(caught.value)
    assert text.startswith("team: the Slack webhook failed: ")
    assert "403" in text
    assert text.endswith(
        "; the server answered 'invalid_token'. Check notifications.team "
        "(config line 2)."
    )
    for token in SLACK_TOKENS:
        assert token not in text
        assert token not in caplog.text
    assert len(slack.requests) == 1


# -- any apprise URL -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "message_type"),
    [("info", "info"), ("warning", "warning"), ("critical", "failure")],
)
def test_json_url_receives_title_body_and_type(
    webhooks: Webhooks, severity: str, message_type: str
) -> None:
    config = settings(
        "notifications:\n"
        "  hook:\n"
        f"    url: json://127.0.0.1:{webhooks.port}/qoins/alerts\n"
    )
    notice = Notice("QOINs: Budget Alert", "Spent $80.00 of $100.00 (80%)", severity)

    deliver("hook", notice, config, secret=no_keyring)

    (request,) = webhooks.requests
    assert request.path == "/qoins/alerts"
    assert request.payload["title"] == "QOINs: Budget Alert"
    assert request.payload["message"] == "Spent $80.00 of $100.00 (80%)"
    assert request.payload["type"] == message_type


def test_url_from_the_keyring_stays_out_of_its_failure() -> None:
    port = free_port()
    url = f"json://127.0.0.1:{port}/hooks/qoinsPathToken93b1"
    config = settings("notifications:\n  hook:\n    type: apprise\n")

    with pytest.raises(DeliveryError) as caught:
        deliver("hook", URGENT, config, secret={"notify.hook": url}.get)

    text = str(caught.value)
    assert text.startswith("hook: the json:// URL failed: ")
    assert "[Errno 111] Connection refused" in text
    assert "qoinsPathToken93b1" not in text


def test_a_server_that_never_answers_fails_within_the_time_limit(
    silent: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "SOCKET_TIMEOUT_S", 1.0)
    port = silent.getsockname()[1]
    config = settings(f"notifications:\n  hook:\n    url: json://127.0.0.1:{port}/\n")

    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        deliver("hook", URGENT, config)

    # One read of 1 s, well before the 10 s the whole send may take.
    assert time.monotonic() - started < 3
    assert "Read timed out" in str(caught.value)


# -- settings that cannot work -------------------------------------------------------


def test_a_missing_field_names_the_line_the_key_and_what_to_write() -> None:
    config = settings(
        "notifications:\n"
        "  alerts_mail:\n"
        "    type: email\n"
        "    username: qoins@example.com\n"
    )

    with pytest.raises(DeliveryError) as caught:
        deliver("alerts_mail", URGENT, config)

    assert str(caught.value) == (
        "alerts_mail: config line 2: notifications.alerts_mail has no smtp_server; "
        "smtp_server: smtp.example.com, the host name of the server that sends the "
        "mail."
    )


def test_a_missing_secret_says_how_to_store_it() -> None:
    config = settings("notifications:\n  team:\n    type: slack\n")

    with pytest.raises(DeliveryError) as caught:
        deliver("team", URGENT, config, secret=lambda user: None)

    assert str(caught.value) == (
        "team: config line 2: notifications.team has no webhook_url; run "
        '"qoins keys set notify.team" to keep it in the OS keyring, or write '
        'webhook_url: "${SLACK_WEBHOOK_URL}" with the webhook URL in that '
        "environment variable."
    )


def test_an_unreadable_keyring_is_named_when_config_leaves_the_secret_out() -> None:
    config = settings(
        "notifications:\n"
        "  mail:\n"
        "    smtp_server: smtp.example.com\n"
        "    username: qoins@example.com\n"
    )

    def locked(user: str) -> str | None:
        raise KeyringUnavailable("The keyring collection is locked.")

    with pytest.raises(DeliveryError) as caught:
        deliver("mail", URGENT, config, secret=locked)

    assert str(caught.value) == (
        "mail: config line 2: notifications.mail has no password, and the OS "
        "keyring cannot be read: The keyring collection is locked."
    )


def test_an_unset_variable_is_named_with_the_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("QOINS_TEST_UNSET_SMTP", raising=False)
    config = settings(
        "theme: qoins-dark\n"
        "notifications:\n"
        "  mail:\n"
        '    smtp_server: "${QOINS_TEST_UNSET_SMTP}"\n'
        "    from: qoins@example.com\n"
    )

    with pytest.raises(DeliveryError) as caught:
        deliver("mail", URGENT, config)

    text = str(caught.value)
    assert text.startswith(
        "mail: config line 3: notifications.mail.smtp_server uses "
        "${QOINS_TEST_UNSET_SMTP}, which is not set in the environment"
    )


def test_an_address_that_is_not_one_is_refused_before_sending() -> None:
    config = settings(
        "notifications:\n"
        "  mail:\n"
        "    smtp_server: 127.0.0.1\n"
        "    from: qoins@example.com\n"
        "    to: team@example.com, lead\n"
    )

    with pytest.raises(DeliveryError) as caught:
        deliver("mail", URGENT, config)

    assert str(caught.value) == (
        "mail: config line 2: notifications.mail.to has 'lead', which is not an "
        "e-mail address; write name@example.com, several separated by commas."
    )


def test_front_end_channels_and_unknown_severities_are_refused() -> None:
    for channel in ("terminal", "toast"):
        with pytest.raises(ValueError, match=channel):
            deliver(channel, URGENT, Settings())
    with pytest.raises(ValueError, match="'urgent'"):
        deliver("desktop", Notice("t", "b", "urgent"), Settings())


def test_an_unknown_channel_is_a_delivery_error() -> None:
    with pytest.raises(DeliveryError, match=r"^pager: no channel of that name"):
        deliver("pager", URGENT, Settings())


# -- the desktop ---------------------------------------------------------------------


def dunst() -> str | None:
    """Why dunst cannot receive test notices on the session bus, or None."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return "no D-Bus session bus; run the tests inside dbus-run-session"
    try:
        from jeepney import DBusAddress, new_method_call
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection
    except ImportError:
        return "jeepney, the D-Bus client the test reads dunst with, is missing"
    name = "org.freedesktop.Notifications"
    try:
        bus = open_dbus_connection(bus="SESSION")
    except OSError as exc:
        return f"the D-Bus session bus does not answer ({exc})"
    with bus:
        (owned,) = bus.send_and_get_reply(message_bus.NameHasOwner(name)).body
        if not owned:
            return (
                f"no notification daemon owns {name}; start dunst (with a DISPLAY, "
                "such as Xvfb's)"
            )
        server = DBusAddress("/org/freedesktop/Notifications", name, name)
        reply = bus.send_and_get_reply(new_method_call(server, "GetServerInformation"))
    if reply.body[0] != "dunst":
        return f"the notification daemon is {reply.body[0]}, not dunst"
    return None


def dunst_history(summary: str) -> dict[str, Any]:
    """The notice titled ``summary`` from dunst's history, after closing the newest
    shown one (only closed notices go into the history)."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    control = DBusAddress(
        "/org/freedesktop/Notifications",
        "org.freedesktop.Notifications",
        "org.dunstproject.cmd0",
    )
    deadline = time.monotonic() + 5
    with open_dbus_connection(bus="SESSION") as bus:
        while time.monotonic() < deadline:
            bus.send_and_get_reply(new_method_call(control, "NotificationCloseLast"))
            reply = bus.send_and_get_reply(
                new_method_call(control, "NotificationListHistory")
            )
            for entry in reply.body[0]:
                fields = {key: value for key, (_, value) in entry.items()}
                if fields["summary"] == summary:
                    return fields
            time.sleep(0.1)
    raise AssertionError(f"dunst's history has no notice {summary!r}")


@pytest.mark.parametrize(
    ("severity", "timeout_us"),
    # dunst's built-in defaults: critical notices stay until closed (timeout 0),
    # others go after 10 s, which its history holds in microseconds.
    [("critical", 0), ("warning", 10_000_000)],
)
def test_desktop_notice_arrives_at_dunst(severity: str, timeout_us: int) -> None:
    why = dunst()
    require_service("dunst, a notification daemon on D-Bus", why is None, why or "")
    notice = Notice(
        f"QOINs {severity}: 90% Budget Used",
        "Spent $90.00 of $100.00 (90%)\nProjected: $120.00",
        severity,
    )

    deliver("desktop", notice, Settings())

    shown = dunst_history(f"QOINs {severity}: 90% Budget Used")
    assert shown["appname"] == "QOINs"
    assert shown["body"] == "Spent $90.00 of $100.00 (90%)\nProjected: $120.00"
    assert shown["timeout"] == timeout_us


@pytest.mark.skipif(sys.platform != "linux", reason="desktop notices use D-Bus here")
def test_desktop_without_a_bus_fails_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")

    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        deliver("desktop", URGENT, Settings())

    assert time.monotonic() - started < notify.DESKTOP_TIMEOUT_S
    assert str(caught.value) == (
        "desktop: the D-Bus session bus that DBUS_SESSION_BUS_ADDRESS names does not "
        "answer (No such file or directory); desktop notifications need a desktop "
        "session, or a notification daemon such as dunst in a dbus-run-session."
    )


@pytest.mark.skipif(sys.platform != "linux", reason="desktop notices use D-Bus here")
def test_desktop_bus_that_never_answers_hits_the_time_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "DESKTOP_TIMEOUT_S", 0.5)
    with socket.socket(socket.AF_UNIX) as bus:
        bus.bind(str(tmp_path / "bus"))
        bus.listen(1)
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/bus")

        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            deliver("desktop", URGENT, Settings())

        assert time.monotonic() - started < 2
    assert str(caught.value) == (
        "desktop: no notification server answered on D-Bus within 0.5 s (is a "
        "notification daemon running?)."
    )
