"""Delivering alert notices: to the desktop, by e-mail, to Slack and to any apprise URL.

:func:`deliver` sends one :class:`Notice` through one channel: ``desktop``, the
desktop's notification server (through desktop-notifier), or an entry under
``notifications`` in config.yml, which becomes an apprise URL: ``url`` as written,
or one built from the e-mail or Slack fields. A channel's secret (the e-mail
password, the Slack webhook URL, the whole apprise URL) comes from its setting,
where ``${VAR}`` is read from the environment, or, when the setting is left out,
from the OS keyring under ``notify.CHANNEL``.

Every send has a time limit, and every failure becomes a :class:`DeliveryError`
naming the channel and the reason, with passwords, tokens and webhook paths cut
out. ``terminal`` and ``toast`` are shown by the front ends themselves.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit

from qoins_tui.config import Channel, Settings, resolve_vars
from qoins_tui.errors import MissingSecretError, QoinsError

if TYPE_CHECKING:
    from apprise import NotifyType

logger = logging.getLogger(__name__)

APP_NAME = "QOINs"
SEVERITIES = ("info", "warning", "critical")
FRONT_END_CHANNELS = ("terminal", "toast")
"""Channels the app and the command line show themselves; :func:`deliver` refuses
them."""
TIMEOUT_S = 10.0
"""How long one apprise send (e-mail, Slack, any URL) may take in all."""
SOCKET_TIMEOUT_S = 4.0
"""How long a connection, and each answer on it, may take: the ``cto`` and ``rto``
of the URLs QOINs builds, and of configured URLs that set neither."""
DESKTOP_TIMEOUT_S = 5.0
"""How long the desktop's notification server may take to take a notice."""
EMAIL_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
"""The ``secure`` modes of an e-mail channel and the port each uses by default."""

_REDACTED = "…"
_SHORTEST_TOKEN = 6
"""URL parts shorter than this are not taken for tokens: words such as ``json``
or ``text`` would otherwise be cut out of every message."""
_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$|^\[[0-9A-Fa-f:.]+\]$")
_ADDRESS = re.compile(r"^[^@\s,]+@[^@\s,]+$")
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\"()]+")
_ANSWER = re.compile(r"b(['\"])([^\r\n<>]{1,120})\1")
"""A server's answer as apprise logs it (``b'invalid_token'``): one short line, no
markup."""
_send_lock = threading.Lock()
"""One apprise send at a time: each changes the level of apprise's logger."""


class DeliveryError(Exception):
    """A notice did not reach its channel; the message names the channel and why,
    never a secret."""


@dataclass(frozen=True)
class Notice:
    """What an alert says, in plain text."""

    title: str
    body: str
    severity: str
    """``info``, ``warning`` or ``critical``."""


@dataclass(frozen=True)
class _Target:
    """An apprise URL built from a channel, with what must not appear in messages."""

    url: str
    secrets: frozenset[str]
    description: str
    """The target in words for messages, without a secret."""


def deliver(
    channel: str,
    notice: Notice,
    settings: Settings,
    *,
    secret: Callable[[str], str | None] | None = None,
) -> None:
    """Send ``notice`` through ``channel``: ``desktop`` or a ``notifications`` entry.

    ``secret`` reads the OS keyring (default :func:`qoins_tui.keys.get_key`). Raises
    :class:`DeliveryError` when the notice does not arrive, ValueError for a
    severity that does not exist or a channel the front ends show themselves.
    """
    if notice.severity not in SEVERITIES:
        raise ValueError(
            f"severity {notice.severity!r} is none of {', '.join(SEVERITIES)}"
        )
    if channel in FRONT_END_CHANNELS:
        raise ValueError(f"the {channel} channel is shown by the front ends")
    if channel == "desktop":
        _deliver_desktop(notice)
        logger.debug("desktop: notice %r sent", notice.title)
        return

    entry = settings.channel(channel)
    if entry is None:
        raise DeliveryError(
            f"{channel}: no channel of that name under notifications in config.yml; "
            "add it there, or name another channel in the alert."
        )
    if secret is None:
        from qoins_tui.keys import get_key

        secret = get_key
    target = _target(entry, secret)
    _send(entry, target, notice)
    logger.debug("%s: notice %r sent by %s", channel, notice.title, target.description)


# -- the desktop ---------------------------------------------------------------------


def _deliver_desktop(notice: Notice) -> None:
    """Hand ``notice`` to the desktop's notification server, in a daemon thread that
    gets :data:`DESKTOP_TIMEOUT_S`: a D-Bus that does not answer must not hang an
    alert."""
    outcome: queue.Queue[BaseException | None] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            asyncio.run(_send_desktop(notice))
        except Exception as exc:
            outcome.put(exc)
        else:
            outcome.put(None)

    threading.Thread(target=run, name="qoins-desktop", daemon=True).start()
    try:
        failure = outcome.get(timeout=DESKTOP_TIMEOUT_S)
    except queue.Empty:
        raise DeliveryError(
            "desktop: no notification server answered on D-Bus within "
            f"{DESKTOP_TIMEOUT_S:g} s (is a notification daemon running?)."
        ) from None
    if failure is not None:
        raise DeliveryError(_desktop_failure(failure)) from None


async def _send_desktop(notice: Notice) -> None:
    # desktop-notifier loads its platform's backend and D-Bus client: only a
    # desktop notice pays for them.
    from desktop_notifier import DesktopNotifier, Urgency

    notifier = DesktopNotifier(app_name=APP_NAME, app_icon=None)
    dispatched = threading.Event()
    with _failures_logged_by("desktop_notifier") as failures:
        try:
            await notifier.send(
                title=notice.title,
                message=notice.body,
                urgency=(
                    Urgency.Critical
                    if notice.severity == "critical"
                    else Urgency.Normal
                ),
                on_dispatched=dispatched.set,
            )
        finally:
            # desktop-notifier keeps its D-Bus connection for clicks on the
            # notification, which QOINs does not take; close it, or each notice
            # would leave a socket open.
            bus = getattr(notifier._backend, "bus", None)
            if bus is not None:
                bus.disconnect()
    if not dispatched.is_set():
        raise failures[0] if failures else RuntimeError("the notice was not shown")


@contextmanager
def _failures_logged_by(name: str) -> Iterator[list[BaseException]]:
    """The exceptions logger ``name`` reports meanwhile, kept out of QOINs' log:
    desktop-notifier logs a failed notice with its traceback instead of raising."""
    failures: list[BaseException] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info and record.exc_info[1] is not None:
                failures.append(record.exc_info[1])

    source = logging.getLogger(name)
    handler = Collect(logging.WARNING)
    propagate = source.propagate
    source.addHandler(handler)
    source.propagate = False
    try:
        yield failures
    finally:
        source.removeHandler(handler)
        source.propagate = propagate


def _desktop_failure(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return (
            "desktop: the D-Bus session bus that DBUS_SESSION_BUS_ADDRESS names does "
            f"not answer ({exc.strerror or exc}); desktop notifications need a "
            "desktop session, or a notification daemon such as dunst in a "
            "dbus-run-session."
        )
    if sys.platform == "linux" and not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return (
            "desktop: there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not "
            "set), so no notification server can be reached; desktop notifications "
            "need a desktop session."
        )
    return (
        "desktop: no notification server answered on D-Bus (is a notification "
        f"daemon running?): {type(exc).__name__}: {exc}"
    )


# -- apprise URLs from config.yml ----------------------------------------------------


def _target(entry: Channel, secret: Callable[[str], str | None]) -> _Target:
    if entry.kind == "email":
        return _email(entry, secret)
    if entry.kind == "slack":
        return _slack(entry, secret)
    url = _setting(entry, "url") or _from_keyring(
        entry,
        "url",
        secret,
        'url: "${APPRISE_URL}" with an apprise URL (such as '
        "json://host/path or discord://…) in that environment variable",
    )
    scheme = urlsplit(url).scheme
    return _Target(
        _with_defaults(url, _timeouts()),
        frozenset({url} | _url_tokens(url)),
        f"the {scheme}:// URL" if scheme else "the URL",
    )


def _email(entry: Channel, secret: Callable[[str], str | None]) -> _Target:
    server = _setting(entry, "smtp_server")
    if server is None:
        raise _missing(
            entry,
            "smtp_server",
            "smtp_server: smtp.example.com, the host name of the server that sends "
            "the mail",
        )
    secure = (_setting(entry, "secure") or "starttls").lower()
    if secure not in EMAIL_PORTS:
        raise DeliveryError(
            f"{entry.name}: {entry.where}: notifications.{entry.name}.secure is "
            f"{secure!r}; write starttls (the default), ssl, or none for a local "
            "server without TLS."
        )
    port = int(entry.settings.get("port", EMAIL_PORTS[secure]))
    username, password = _login(entry, secret, secure)
    own = username if username and _ADDRESS.match(username) else None
    sender = _setting(entry, "from") or own
    if sender is None:
        raise _missing(entry, "from", "from: alerts@example.com, the sender")
    to = _addresses(entry, _setting(entry, "to") or own)

    login = ""
    if username is not None and password is not None:
        login = f"{quote(username, safe='')}:{quote(password, safe='')}@"
    host = f"[{server}]" if ":" in server else server
    params = {"smtp": server, "from": sender, "to": to, "format": "text"}
    if secure != "none":
        params["mode"] = secure
    params.update(_timeouts())
    scheme = "mailto" if secure == "none" else "mailtos"
    return _Target(
        f"{scheme}://{login}{host}:{port}/?{urlencode(params, quote_via=quote)}",
        frozenset({password} if password else ()),
        f"e-mail to {to} through {server}:{port}",
    )


def _login(
    entry: Channel, secret: Callable[[str], str | None], secure: str
) -> tuple[str | None, str | None]:
    """The user name and password of an e-mail channel, or neither for a server
    that takes mail without a login. Without TLS (``secure: none``, a local relay)
    the password is optional: with none in the entry or the keyring, the mail goes
    without a login, from the user name."""
    username = _setting(entry, "username")
    password = _setting(entry, "password")
    if username is None and password is not None:
        raise _missing(
            entry, "username", "username: the name the password logs in with"
        )
    if username is not None and password is None:
        try:
            password = _from_keyring(
                entry,
                "password",
                secret,
                'password: "${SMTP_PASSWORD}" with the password in that environment '
                "variable",
            )
        except DeliveryError:
            if secure != "none":
                raise
            logger.debug("%s: no password; sending without a login", entry.name)
    return username, password


def _addresses(entry: Channel, value: str | None) -> str:
    """The recipients, checked one by one: apprise drops an address it cannot read
    and sends to the others, or to the sender when none is left."""
    addresses = [part.strip() for part in (value or "").split(",") if part.strip()]
    if not addresses:
        raise _missing(entry, "to", "to: you@example.com, who gets the alerts")
    for address in addresses:
        if not _ADDRESS.match(address):
            raise DeliveryError(
                f"{entry.name}: {entry.where}: notifications.{entry.name}.to has "
                f"{address!r}, which is not an e-mail address; write "
                "name@example.com, several separated by commas."
            )
    return ",".join(addresses)


def _slack(entry: Channel, secret: Callable[[str], str | None]) -> _Target:
    webhook = _setting(entry, "webhook_url") or _from_keyring(
        entry,
        "webhook_url",
        secret,
        'webhook_url: "${SLACK_WEBHOOK_URL}" with the webhook URL in that '
        "environment variable",
    )
    if not webhook.startswith(("https://hooks.slack.com/", "slack://")):
        raise DeliveryError(
            f"{entry.name}: {entry.where}: notifications.{entry.name}.webhook_url is "
            "not a Slack webhook URL; write the incoming webhook's "
            "https://hooks.slack.com/services/T…/B…/X… URL, or an apprise slack:// "
            "URL."
        )
    channel = _setting(entry, "channel")
    # Slack shows apprise's logo and name under each message unless told not to.
    params = {"image": "no", "footer": "no", **_timeouts()}
    if channel is not None:
        params["to"] = channel
    return _Target(
        _with_defaults(webhook, params),
        frozenset({webhook} | _url_tokens(webhook)),
        f"the Slack webhook to {channel}" if channel else "the Slack webhook",
    )


def _setting(entry: Channel, key: str) -> str | None:
    """The entry's ``key`` with ``${VAR}`` read from the environment; None when it is
    left out or empty."""
    value = entry.settings.get(key)
    if value is None:
        return None
    try:
        text = resolve_vars(
            str(value),
            f"{entry.name}: {entry.where}",
            f"notifications.{entry.name}.{key}",
        )
    except MissingSecretError as exc:
        raise DeliveryError(exc.message) from None
    return text.strip() or None


def _from_keyring(
    entry: Channel, key: str, secret: Callable[[str], str | None], setting: str
) -> str:
    """The channel's secret from the OS keyring, for a ``key`` the entry leaves out."""
    user = f"notify.{entry.name}"
    try:
        value = secret(user)
    except QoinsError as exc:
        raise DeliveryError(
            f"{entry.name}: {entry.where}: notifications.{entry.name} has no {key}, "
            f"and the OS keyring cannot be read: {exc.message}"
        ) from None
    if not value:
        raise _missing(
            entry,
            key,
            f'run "qoins keys set {user}" to keep it in the OS keyring, or write '
            f"{setting}",
        )
    logger.debug("%s: %s from the keyring", entry.name, key)
    return value


def _missing(entry: Channel, key: str, hint: str) -> DeliveryError:
    return DeliveryError(
        f"{entry.name}: {entry.where}: notifications.{entry.name} has no {key}; {hint}."
    )


def _timeouts() -> dict[str, str]:
    return {"cto": f"{SOCKET_TIMEOUT_S:g}", "rto": f"{SOCKET_TIMEOUT_S:g}"}


def _with_defaults(url: str, params: dict[str, str]) -> str:
    """``url`` with each of ``params`` its query does not set already."""
    written = {key for key, _ in parse_qsl(urlsplit(url).query, True)}
    added = {key: value for key, value in params.items() if key not in written}
    if not added:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(added, quote_via=quote)}"


def _url_tokens(url: str) -> set[str]:
    """The parts of ``url`` that may be tokens: the user and password, the host when
    it is not a host name or address, each path segment and query value."""
    parts = urlsplit(url)
    login, _, host = parts.netloc.rpartition("@")
    host = re.sub(r":\d+$", "", host)
    tokens = {unquote(part) for part in parts.path.split("/")}
    tokens.update(value for _, value in parse_qsl(parts.query, True))
    tokens.update(unquote(part) for part in parts.fragment.split("/"))
    if not _DOMAIN.match(host):
        tokens.add(unquote(host))
    tokens = {token for token in tokens if len(token) >= _SHORTEST_TOKEN}
    return tokens | {unquote(part) for part in login.split(":") if part}


def _redact(text: str, secrets: Iterable[str]) -> str:
    forms = set()
    for value in secrets:
        if value:
            forms.update({value, quote(value, safe=""), quote_plus(value, safe="")})
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, _REDACTED)
    return text


# -- sending -------------------------------------------------------------------------


def _send(entry: Channel, target: _Target, notice: Notice) -> None:
    # apprise loads its plugins on first use, which takes a while: only a send
    # pays for it.
    import apprise

    asset = apprise.AppriseAsset(app_id=APP_NAME)
    with _apprise_log(target.secrets) as records:
        service = apprise.Apprise.instantiate(target.url, asset=asset)
        if service is None:
            raise DeliveryError(
                f"{entry.name}: apprise cannot use {target.description}: "
                f"{_reasons(records, target.secrets)}. Check notifications."
                f"{entry.name} ({entry.where})."
            )
        notifier = apprise.Apprise(asset=asset)
        notifier.add(service)
        result = notifier.notify(
            body=notice.body,
            title=notice.title,
            notify_type=_notify_type(notice.severity),
            body_format=apprise.NotifyFormat.TEXT,
            timeout=TIMEOUT_S,
        )
    if not result:
        raise DeliveryError(
            f"{entry.name}: {target.description} failed: "
            f"{_reasons(records, target.secrets)}. Check notifications.{entry.name} "
            f"({entry.where})."
        )


def _notify_type(severity: str) -> NotifyType:
    from apprise import NotifyType

    return {
        "info": NotifyType.INFO,
        "warning": NotifyType.WARNING,
        "critical": NotifyType.FAILURE,
    }[severity]


@contextmanager
def _apprise_log(secrets: frozenset[str]) -> Iterator[list[logging.LogRecord]]:
    """apprise's log records during a send, for the error message.

    apprise says why a send failed only in its log, the exception's text at debug
    level, so its logger is turned up meanwhile and kept from QOINs' handlers: its
    debug lines, and urllib3's, carry whole URLs with their tokens. urllib3's lines
    go on with the secrets cut out.
    """
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    class Redact(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg, record.args = _redact(record.getMessage(), secrets), None
            return True

    source = logging.getLogger("apprise")
    requests = logging.getLogger("urllib3.connectionpool")
    handler, redact = Collect(logging.DEBUG), Redact()
    with _send_lock:
        level, propagate = source.level, source.propagate
        source.addHandler(handler)
        source.setLevel(logging.DEBUG)
        source.propagate = False
        requests.addFilter(redact)
        try:
            yield records
        finally:
            requests.removeFilter(redact)
            source.removeHandler(handler)
            source.setLevel(level)
            source.propagate = propagate


def _reasons(records: list[logging.LogRecord], secrets: frozenset[str]) -> str:
    """What apprise logged as the failure: its warnings and errors, the exceptions
    behind them (shortened to their errno where they have one), and a server's
    answer when it is a short line such as Slack's ``invalid_token``."""
    reasons: list[str] = []
    for record in records:
        text = record.getMessage().strip()
        if text.startswith("Socket Exception:"):
            text = text.removeprefix("Socket Exception:").strip()
            errno = _ERRNO.search(text)
            text = errno.group(0).strip() if errno else text
        elif text.startswith("Response Details:"):
            answer = _ANSWER.fullmatch(text.removeprefix("Response Details:").strip())
            if answer is None:
                continue
            text = f"the server answered {answer.group(2)!r}"
        elif record.levelno < logging.WARNING:
            continue
        text = _redact(text, secrets)[:300].rstrip(".")
        if text and text not in reasons:
            reasons.append(text)
    return "; ".join(reasons) or "apprise reported a failure without a reason"
