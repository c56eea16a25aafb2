"""API keys in the OS keyring, and which secret each source runs with.

A key is stored under the keyring service ``qoins``. Its user is the source's name
under ``services`` for the source's first secret (``openai``), ``NAME.FIELD`` for
another one (``datadog.app_key``) and ``notify.CHANNEL`` for a notification
channel's. Keyrings cannot be listed, so QOINs keeps the names it stored, never the
keys, in a small file in the user data dir.

Every keyring call runs in a daemon thread and gets :data:`TIMEOUT_S` seconds: no
backend, a locked collection or a D-Bus that does not answer becomes a
:class:`~qoins_tui.errors.KeyringUnavailable` that says how to fix it, never a
hang, a traceback or an unlock prompt. A source's ``api_key: "${VAR}"`` is the
fallback for cron and servers (:func:`source_secrets`). No key is ever logged or
put in a message.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from collectors import COLLECTOR_TYPES
from qoins_tui import locations
from qoins_tui.config import Settings, resolve_vars, variable_names
from qoins_tui.errors import KeyringUnavailable, MissingSecretError, QoinsError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

logger = logging.getLogger(__name__)

SERVICE = "qoins"
"""The keyring service every QOINs key is stored under."""
CHANNEL_SECRET = {"email": "password", "slack": "webhook_url", "apprise": "url"}
"""The field of a notification channel that ``notify.NAME`` in the keyring stands
for when config.yml leaves it out."""
TIMEOUT_S = 5.0
"""How long one keyring call may take before QOINs reports the keyring unavailable."""

_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_FALLBACK = (
    "or, for cron and servers, keep the secret in an environment variable and write "
    '"${VAR}" for it in config.yml (api_key under a source, password, webhook_url or '
    "url under a notification channel)"
)

Origin = Literal["keyring", "variable", "config", "missing", "unknown"]
"""Where a refresh takes a key from: the keyring, the setting's ``${VAR}``, a key
written in config.yml itself, nowhere, or unknown (the keyring cannot be read)."""

_T = TypeVar("_T")

_stuck: threading.Thread | None = None
"""A keyring call that outlived its time limit and has not returned yet."""


# -- the keyring ---------------------------------------------------------------------


def check_name(user: str) -> str:
    """``user`` when it can name a key, else a :class:`QoinsError` saying what can.

    The name itself is not repeated in the message: a key pasted in its place would
    be.
    """
    if not _NAME.fullmatch(user):
        raise QoinsError(
            "A key's name is the source's name under services in config.yml "
            "(openai), NAME.FIELD for a source's second secret (datadog.app_key) or "
            "notify.CHANNEL, in letters, digits, '_', '-' and '.'; the name given "
            "has other characters.",
            title="Invalid key name",
        )
    return user


def get_key(user: str) -> str | None:
    """The key stored for ``user``, or None when the keyring holds none."""
    check_name(user)
    return _call(lambda backend: backend.get_password(SERVICE, user)) or None


def has_key(user: str) -> bool:
    """Whether the keyring holds a key for ``user``."""
    return get_key(user) is not None


def set_key(user: str, value: str) -> None:
    """Store ``value`` as the key of ``user``, replacing any key stored before.

    Spaces and tabs around it are dropped: they come with a paste, never with a key.
    """
    check_name(user)
    value = value.strip(" \t")
    if not value.strip():
        raise QoinsError(
            f"No key stored for {user}: the key is empty.", title="Empty key"
        )
    if "\n" in value or "\r" in value:
        raise QoinsError(
            f"No key stored for {user}: the key has more than one line, and an API "
            "key is one.",
            title="Invalid key",
        )
    _call(lambda backend: backend.set_password(SERVICE, user, value), hide=value)
    logger.debug("stored the key of %s in the keyring", user)
    _remember(user, stored=True)


def delete_key(user: str) -> bool:
    """Remove the key of ``user``; False when the keyring held none."""
    check_name(user)

    def delete(backend: KeyringBackend) -> bool:
        from keyring.errors import PasswordDeleteError

        try:
            backend.delete_password(SERVICE, user)
        except PasswordDeleteError:
            return False
        return True

    deleted = _call(delete)
    _remember(user, stored=False)
    return deleted


def stored_names() -> list[str]:
    """The names QOINs stored keys under, from its own list, sorted."""
    path = locations.key_names_path()
    try:
        names = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        logger.warning("%s cannot be read (%s); no stored key names from it", path, exc)
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        logger.warning("%s is not a list of key names; ignoring it", path)
        return []
    return sorted(set(names))


def _remember(user: str, *, stored: bool) -> None:
    names = set(stored_names())
    if (user in names) == stored:
        return
    if stored:
        names.add(user)
    else:
        names.discard(user)
    path = locations.key_names_path()
    part = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part.write_text(json.dumps(sorted(names), indent=2) + "\n", encoding="utf-8")
        os.replace(part, path)
    except OSError as exc:
        logger.warning(
            "could not update the list of key names in %s (%s); qoins keys list "
            "may not show %s",
            path,
            exc.strerror,
            user,
        )


def _call(operation: Callable[[KeyringBackend], _T], *, hide: str = "") -> _T:
    """Run ``operation`` on the keyring's backend in a daemon thread, or give up.

    After a call has timed out, the next ones fail at once until it returns: a
    refresh of many sources waits for a hung keyring once, not once per source.
    """
    global _stuck
    if _stuck is not None and _stuck.is_alive():
        raise KeyringUnavailable(
            "The OS keyring has not answered a call QOINs made earlier, which is still "
            "waiting. Restart its Secret Service (gnome-keyring-daemon --replace) and "
            f"unlock it, {_FALLBACK}."
        )
    _stuck = None
    limit_s = TIMEOUT_S
    answers: queue.Queue[tuple[_T] | Exception] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            answers.put((operation(_backend()),))
        except Exception as exc:
            answers.put(exc)

    thread = threading.Thread(target=run, name="qoins-keyring", daemon=True)
    thread.start()
    try:
        answer = answers.get(timeout=limit_s)
    except queue.Empty:
        _stuck = thread
        raise KeyringUnavailable(
            f"The OS keyring did not answer within {limit_s:g} s: its Secret Service "
            "on D-Bus hangs or waits for an unlock prompt nobody answers. Restart it "
            f"(gnome-keyring-daemon --replace) and unlock it, {_FALLBACK}."
        ) from None
    if isinstance(answer, tuple):
        return answer[0]
    if isinstance(answer, QoinsError):
        raise answer
    fact = f"{type(answer).__name__}: {answer}"
    if hide:
        fact = fact.replace(hide, "…")
    logger.debug("keyring call failed: %s", fact)
    raise KeyringUnavailable(
        f"The OS keyring failed ({fact}). Check that its Secret Service runs and is "
        f"unlocked, {_FALLBACK}."
    ) from None


def _backend() -> KeyringBackend:
    """The keyring's backend; refused when it cannot store keys or would prompt."""
    # keyring loads every backend and their D-Bus client: only a keyring call pays.
    import keyring
    from keyring.backends import fail, null

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        raise KeyringUnavailable(_no_backend())
    if isinstance(backend, null.Keyring):
        raise KeyringUnavailable(
            "The OS keyring is switched off: keyring's null backend is selected (by "
            "PYTHON_KEYRING_BACKEND or keyringrc.cfg), and it stores nothing. Select "
            f"a real backend, {_FALLBACK}."
        )
    _refuse_locked(backend)
    return backend


def _no_backend() -> str:
    chosen = os.environ.get("PYTHON_KEYRING_BACKEND")
    if chosen:
        why = f"PYTHON_KEYRING_BACKEND is set to {chosen}"
    elif not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        why = (
            "there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set), so "
            "no Secret Service can be reached"
        )
    else:
        why = "no Secret Service answers on the D-Bus session bus"
    return (
        f"No OS keyring is available: {why}. Install and start a Secret Service such "
        "as gnome-keyring (on a desktop it starts at login; on a server, run QOINs "
        "inside dbus-run-session after gnome-keyring-daemon --unlock "
        f"--components=secrets), {_FALLBACK}."
    )


def _refuse_locked(backend: KeyringBackend) -> None:
    """Report a locked Secret Service collection instead of letting keyring ask to
    unlock it: from cron or a server nobody answers that prompt."""
    # secretstorage exists on Linux only, and loads slowly: import it when needed.
    from keyring.backends import SecretService

    if not isinstance(backend, SecretService.Keyring):
        return
    import secretstorage
    from secretstorage.collection import DEFAULT_COLLECTION
    from secretstorage.exceptions import ItemNotFoundException

    path = getattr(backend, "preferred_collection", None) or DEFAULT_COLLECTION
    with closing(secretstorage.dbus_init()) as bus:
        try:
            collection = secretstorage.Collection(bus, path)
        except ItemNotFoundException:
            raise KeyringUnavailable(
                "The Secret Service has no default collection to keep keys in, and "
                "QOINs does not create one (that asks for a password). Create one in "
                "your keyring manager (Seahorse), or start gnome-keyring-daemon "
                f"--unlock, which creates the login collection, {_FALLBACK}."
            ) from None
        if collection.is_locked():
            label = collection.get_label() or path
            raise KeyringUnavailable(
                f'The keyring collection "{label}" is locked, and QOINs does not ask '
                "to unlock it (from cron or a server nobody can answer). Unlock it: "
                "log in to the desktop, or unlock it in your keyring manager "
                "(Seahorse), or start gnome-keyring-daemon with --unlock; "
                f"{_FALLBACK}."
            )


# -- sources -------------------------------------------------------------------------


def source_secret_keys(settings: Settings, source: str) -> tuple[str, ...]:
    """The settings holding secrets for the configured source ``source``, if any."""
    config = settings.source(source)
    if config is None:
        return ()
    return tuple(getattr(COLLECTOR_TYPES.get(config.type), "secret_keys", ()))


def key_user(source: str, secret_keys: Sequence[str], field: str) -> str:
    """The keyring user of a source's secret: the source's name for its first one,
    ``NAME.FIELD`` for the others."""
    return source if field == secret_keys[0] else f"{source}.{field}"


def source_secrets(
    name: str, secret_keys: Sequence[str], settings: Mapping[str, Any]
) -> dict[str, str]:
    """Each secret of source ``name`` by field: the keyring's key, else the setting.

    ``settings`` are the source's own as written, where a secret may be ``${VAR}``.
    A keyring that cannot be used is passed over when the setting gives the secret;
    when neither gives it, the error says how to provide it.
    """
    secrets = {}
    for field in secret_keys:
        user = key_user(name, secret_keys, field)
        unavailable = None
        try:
            value = get_key(user)
        except KeyringUnavailable as exc:
            logger.debug("%s: the keyring cannot be used: %s", name, exc.message)
            unavailable, value = exc, None
        if value is None:
            value = _from_setting(name, field, user, settings.get(field), unavailable)
        else:
            logger.debug("%s: %s from the keyring", name, field)
        secrets[field] = value
    return secrets


def _from_setting(
    name: str,
    field: str,
    user: str,
    setting: Any,
    unavailable: KeyringUnavailable | None,
) -> str:
    text = "" if setting is None else str(setting)
    if not text:
        if unavailable is not None:
            reason = unavailable.message
            raise KeyringUnavailable(
                f"no {field}: services.{name} in config.yml sets none, and "
                f"{reason[:1].lower()}{reason[1:]}"
            )
        raise MissingSecretError(
            f'no {field} stored. Run "qoins keys set {user}" to keep it in the OS '
            f'keyring, or set {field}: "${{VAR}}" under services.{name} in '
            "config.yml with the key in that environment variable."
        )
    try:
        value = resolve_vars(text, name, field)
    except MissingSecretError as exc:
        if unavailable is not None:
            raise MissingSecretError(
                f"{exc.message} The OS keyring cannot be used either: "
                f"{unavailable.message}"
            ) from None
        raise MissingSecretError(
            f'{exc.message} Or keep the key in the OS keyring: "qoins keys set {user}".'
        ) from None
    if not value.strip():
        raise MissingSecretError(
            f"services.{name}.{field} in config.yml comes out empty. Set the variable "
            f'it names to the key, or run "qoins keys set {user}".'
        )
    logger.debug("%s: %s from config.yml", name, field)
    return value


# -- the list ------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyStatus:
    """Where one key comes from, as ``qoins keys list`` shows it; never the key."""

    name: str
    origin: Origin
    source: str | None = None
    """The configured source the key belongs to (``notifications.NAME`` for a
    notification channel's secret); None for a name nothing uses."""
    field: str | None = None
    in_keyring: bool | None = None
    """None when the keyring cannot be read."""
    variables: tuple[str, ...] = ()
    """The environment variables the source's setting names as ``${VAR}``."""
    variables_set: bool = False


@dataclass(frozen=True)
class KeyReport:
    keys: list[KeyStatus]
    keyring_error: str | None
    """Why the keyring cannot be read, or None when it answered."""


def wanted_keys(settings: Settings) -> dict[str, tuple[str, str, Any]]:
    """The keyring user of every secret the config's sources take: its source, its
    field and the field's setting as written."""
    wanted = {}
    for source in settings.sources:
        secret_keys = source_secret_keys(settings, source.name)
        for field in secret_keys:
            user = key_user(source.name, secret_keys, field)
            wanted[user] = (source.name, field, source.settings.get(field))
    return wanted


def wanted_channel_keys(settings: Settings) -> dict[str, tuple[str, str, Any]]:
    """The keyring user (``notify.NAME``) of every notification channel's secret:
    ``notifications.NAME``, the field and its setting as written. An e-mail channel
    that logs in with no user name, or sends without TLS, needs no password."""
    wanted = {}
    for channel in settings.channels:
        if channel.kind == "email":
            secure = str(channel.settings.get("secure", "starttls")).lower()
            if channel.settings.get("username") is None or secure == "none":
                continue
        field = CHANNEL_SECRET[channel.kind]
        wanted[f"notify.{channel.name}"] = (
            f"notifications.{channel.name}",
            field,
            channel.settings.get(field),
        )
    return wanted


def key_report(settings: Settings) -> KeyReport:
    """Every key the config's sources and notification channels take and every name
    QOINs stored, sorted by name, each with where it is taken from: for a source the
    keyring first, for a channel what config.yml writes first."""
    wanted = wanted_keys(settings)
    channels = wanted_channel_keys(settings)
    wanted.update(channels)
    error = None
    statuses = []
    users = sorted(wanted.keys() | set(stored_names()))
    for user in users:
        in_keyring = None
        if error is None:
            try:
                in_keyring = has_key(user)
            except KeyringUnavailable as exc:
                error = exc.message
        owner, field, setting = wanted.get(user, (None, None, None))
        statuses.append(
            _status(
                user, owner, field, setting, in_keyring, config_first=user in channels
            )
        )
    if not users:
        # Nothing to look up; still say whether a key could be stored.
        try:
            _call(lambda backend: None)
        except KeyringUnavailable as exc:
            error = exc.message
    return KeyReport(statuses, error)


def _status(
    user: str,
    source: str | None,
    field: str | None,
    setting: Any,
    in_keyring: bool | None,
    *,
    config_first: bool = False,
) -> KeyStatus:
    text = "" if setting is None else str(setting)
    variables = tuple(variable_names(text))
    variables_set = bool(variables) and all(v in os.environ for v in variables)
    origin: Origin
    if config_first and variables_set:
        origin = "variable"
    elif config_first and text and not variables:
        origin = "config"
    elif in_keyring:
        origin = "keyring"
    elif variables_set:
        origin = "variable"
    elif text and not variables:
        origin = "config"
    elif in_keyring is None:
        origin = "unknown"
    else:
        origin = "missing"
    return KeyStatus(
        name=user,
        origin=origin,
        source=source,
        field=field,
        in_keyring=in_keyring,
        variables=variables,
        variables_set=variables_set,
    )
