"""Reading and checking ``config.yml``: budgets, sources, subscriptions and prices.

The file is found by ``--config``, ``QOINS_CONFIG``, ``./config.yml`` and then the
user config dir; the first that exists is the only one read. Every error names the
file, the line and the key, and what is accepted there. ``${VAR}`` values stay as
written until the source that uses them runs (:func:`resolve_vars`), so an unset
variable fails that source alone. A source whose own settings are wrong keeps its
error in :attr:`SourceConfig.error` and fails on refresh while the others run.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode

from collectors import COLLECTOR_TYPES, PLANNED_TYPES
from collectors.subscriptions import Subscription
from qoins_tui import locations
from qoins_tui.errors import ConfigError, MissingSecretError

DEFAULT_THRESHOLDS = (75, 90, 95)
SOURCE_COMMON_KEYS = frozenset(
    {"type", "budget_limit", "daily_limit", "alerts", "enabled", "tracking_enabled"}
)
TOP_LEVEL_KEYS = frozenset(
    {
        "budget",
        "services",
        "subscriptions",
        "prices",
        "theme",
        "notifications",
        "projects",
        "team",
        "shared_services",
        "local_alternatives",
    }
)
SUBSCRIPTION_KEYS = frozenset(
    {
        "name",
        "provider",
        "amount",
        "currency",
        "period",
        "seats",
        "start",
        "renews",
        "ends",
        "project",
        "category",
        "notes",
    }
)
PRICE_FIELDS = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")
_TIER_KEY = re.compile(
    r"^(input|output|cache_read|cache_write_5m|cache_write_1h)_above_(\d+)k$"
)
CHANNEL_FIELDS: dict[str, set[str]] = {
    "apprise": {"url"},
    "email": {"smtp_server", "port", "username", "password", "to", "from", "secure"},
    "slack": {"webhook_url", "channel"},
}
"""The keys each kind of ``notifications`` entry accepts besides ``type``."""
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


BUILTIN_CHANNELS = ("terminal", "toast", "desktop")
"""Channels QOINs delivers itself; any other is a ``notifications`` entry."""
DEFAULT_CHANNELS = ("terminal", "toast")


@dataclass(frozen=True)
class AlertRule:
    """A threshold in percent of a budget and the channels that hear of it."""

    threshold: Decimal
    channels: tuple[str, ...]
    projected: bool = True
    """Also alert when the month-end projection reaches the threshold first."""


@dataclass(frozen=True)
class SpikeRule:
    """A day far above a source's usual daily spend (median and MAD of its history),
    and a few hours far above its usual such window."""

    channels: tuple[str, ...] = DEFAULT_CHANNELS
    min_amount: Decimal = Decimal(5)
    """The day must exceed the usual level by at least this much money."""
    min_history: int = 7
    """Days of history the source needs before any of its days can be a spike."""
    sensitivity: Decimal = Decimal(5)
    """How many scaled MADs above the median a day must lie."""
    enabled: bool = True
    hours: int = 3
    """The length of the windows, cut from local midnight, in which charges that
    carry a time of day are judged as well; a divisor of 24, or 0 for none."""


@dataclass(frozen=True)
class RenewalRule:
    """Subscriptions renewing or ending within ``days``."""

    days: int = 7
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    monthly: bool = False
    """Also announce monthly renewals; by default only yearly ones and endings."""
    enabled: bool = True


@dataclass(frozen=True)
class Channel:
    """A ``notifications`` entry: an apprise URL, or the seed's e-mail or Slack
    fields, which :mod:`qoins_tui.notify` turns into one."""

    name: str
    kind: str
    """``email``, ``slack`` or ``apprise`` (a ``url``)."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    where: str = ""
    """File and line of the entry, for delivery errors."""


@dataclass(frozen=True)
class BudgetConfig:
    monthly_limit: Decimal | None = None
    currency: str = "USD"
    timezone: str = "UTC"
    alerts: tuple[AlertRule, ...] = ()
    rates: Mapping[str, Decimal] = field(default_factory=dict)
    """Fixed exchange rates: one unit of the key's currency in the budget currency."""
    daily_limit: Decimal | None = None
    spikes: SpikeRule = field(default_factory=SpikeRule)
    renewals: RenewalRule = field(default_factory=RenewalRule)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class SourceConfig:
    """One entry under ``services``; ``settings`` holds its own keys as written."""

    name: str
    type: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    budget_limit: Decimal | None = None
    detected: bool = False
    error: str | None = None
    """Why this source cannot run, with file and line; it fails alone on refresh."""

    daily_limit: Decimal | None = None
    alerts: tuple[AlertRule, ...] | None = None
    """This budget's own thresholds; None follows ``budget.alerts``."""

    def setting(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)


@dataclass(frozen=True)
class PriceOverride:
    """One model's rates in USD per million tokens; a tier prices the whole request."""

    model: str
    provider: str | None = None
    input: Decimal | None = None
    output: Decimal | None = None
    cache_read: Decimal | None = None
    cache_write_5m: Decimal | None = None
    cache_write_1h: Decimal | None = None
    tier_threshold: int | None = None
    tier: Mapping[str, Decimal] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    path: Path | None = None
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    sources: tuple[SourceConfig, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    prices: tuple[PriceOverride, ...] = ()
    theme: str | None = None
    subscriptions_declared: bool = False
    """True when the file has a ``subscriptions`` section, even an empty one: only
    then is that list the truth the stored subscription charges follow. A missing
    or unreadable config never erases their history."""
    warnings: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)
    """Sections kept as written: projects, team, local_alternatives."""
    channels: tuple[Channel, ...] = ()

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)

    def source(self, name: str) -> SourceConfig | None:
        return next((s for s in self.sources if s.name == name), None)


def system_timezone() -> str:
    """The zone name of ``TZ`` or ``/etc/localtime``; UTC when neither names one."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return tz
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return "UTC"
    marker = "zoneinfo/"
    if marker in target:
        name = target.split(marker, 1)[1]
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return "UTC"
        return name
    return "UTC"


def find_config(flag: str | None) -> Path | None:
    for candidate in locations.config_candidates(flag):
        if candidate.is_file():
            return candidate
    if flag or os.environ.get("QOINS_CONFIG"):
        wanted = locations.config_candidates(flag)[0]
        origin = "--config" if flag else "QOINS_CONFIG"
        what = "is not a regular file" if wanted.exists() else "no such file"
        raise ConfigError(f"{wanted}: {what} (named by {origin}).")
    return None


def load_settings(flag: str | None = None) -> Settings:
    """Find and read the config; no file at all gives the defaults."""
    path = find_config(flag)
    if path is None:
        return Settings(budget=BudgetConfig(timezone=system_timezone()))
    return load_file(path)


def load_file(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}).") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: is not UTF-8 text ({exc.reason}).") from exc
    return parse_config(text, path)


class _Constructor(RoundTripConstructor):
    """Reads numbers with a fraction as exact Decimals and dates as their text.

    A float would round 1234567.123456789012, and YAML's own date reading fails
    on 2026-02-30 with no line to name; the parser checks dates itself.
    """


def _exact_number(constructor: RoundTripConstructor, node: ScalarNode) -> Any:
    text = str(constructor.construct_scalar(node)).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def _date_text(constructor: RoundTripConstructor, node: ScalarNode) -> Any:
    return constructor.construct_scalar(node)


_Constructor.add_constructor("tag:yaml.org,2002:float", _exact_number)
_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _date_text)


def read_document(text: str, where: str) -> Any:
    """The YAML tree of a config's text, numbers exact and dates as written; None for
    a file without content."""
    yaml = YAML(typ="rt", pure=True)
    yaml.Constructor = _Constructor
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}{line}: not valid YAML ({exc.problem}).") from exc
    except YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML ({exc}).") from exc


def parse_config(text: str, path: Path | None = None) -> Settings:
    where = str(path) if path else "config"
    doc = read_document(text, where)
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where}: the top level must be a mapping of sections.")
    return _Parser(where).settings(doc, path)


def resolve_vars(value: str, source: str, key: str) -> str:
    """Replace ``${VAR}`` from the environment; an unset one fails ``source``."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if found is None:
            raise MissingSecretError(
                f"{source}: {key} uses ${{{name}}}, which is not set in the "
                "environment where QOINs runs (for cron, in the crontab or the "
                "script it calls)."
            )
        return found

    return _VAR.sub(lookup, value)


def variable_names(value: str) -> list[str]:
    """The environment variables a value names as ``${VAR}``, in order."""
    return _VAR.findall(value)


def resolved_settings(
    source: SourceConfig, *, leave_out: Collection[str] = ()
) -> dict[str, Any]:
    """The source's settings with every ``${VAR}`` read from the environment now.

    ``leave_out`` names settings not to resolve or return: secrets, which the
    keyring may supply instead of their variable.
    """

    def resolve(key: str, value: Any) -> Any:
        if isinstance(value, str) and "${" in value:
            return resolve_vars(value, source.name, key)
        if isinstance(value, list):
            return [resolve(key, item) for item in value]
        if isinstance(value, Mapping):
            return {k: resolve(f"{key}.{k}", v) for k, v in value.items()}
        return value

    return {
        key: resolve(key, value)
        for key, value in source.settings.items()
        if key not in leave_out
    }


def to_decimal(value: Any) -> Decimal:
    """A YAML number or numeric string as an exact Decimal; floats via their repr."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a number") from exc
        if not result.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        return result
    raise ValueError(f"{value!r} is not a number")


class _Parser:
    """Turns the YAML tree into :class:`Settings`; errors name file, line and key."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.warnings: list[str] = []
        self.known_channels: set[str] = set(BUILTIN_CHANNELS)

    def at(self, node: Any, key: Any) -> str:
        line = None
        lc = getattr(node, "lc", None)
        if lc is not None:
            try:
                position = lc.key(key) if isinstance(key, str) else lc.item(key)
                line = position[0] + 1
            except (KeyError, IndexError, TypeError, AttributeError):
                line = lc.line + 1 if lc.line is not None else None
        return f"{self.where} line {line}" if line else self.where

    def fail(self, node: Any, key: Any, path: str, message: str) -> ConfigError:
        return ConfigError(f"{self.at(node, key)}, {path}: {message}")

    def settings(self, doc: Mapping[str, Any], path: Path | None) -> Settings:
        for key in doc:
            if key not in TOP_LEVEL_KEYS:
                accepted = ", ".join(sorted(TOP_LEVEL_KEYS))
                raise self.fail(
                    doc, key, str(key), f"unknown section; accepted: {accepted}."
                )
        channels = self.channels(doc.get("notifications") or {}, doc)
        self.known_channels = set(BUILTIN_CHANNELS) | {c.name for c in channels}
        budget = self.budget(doc.get("budget") or {}, doc)
        sources = self.sources(doc.get("services") or {}, doc)
        subscriptions = self.subscriptions(doc.get("subscriptions") or [], doc)
        prices = self.prices(doc.get("prices") or {}, doc)
        theme = doc.get("theme")
        if theme is not None and not isinstance(theme, str):
            raise self.fail(doc, "theme", "theme", "must be a theme's name.")
        raw = {
            key: doc.get(key)
            for key in (
                "projects",
                "team",
                "shared_services",
                "local_alternatives",
            )
            if key in doc
        }
        return Settings(
            path=path,
            budget=budget,
            sources=sources,
            subscriptions=subscriptions,
            prices=prices,
            theme=theme,
            subscriptions_declared="subscriptions" in doc,
            warnings=tuple(self.warnings),
            raw=raw,
            channels=channels,
        )

    def mapping(
        self, value: Any, parent: Any, key: Any, path: str
    ) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(parent, key, path, "must be a mapping of keys to values.")
        return value

    def amount(
        self,
        node: Any,
        key: str,
        path: str,
        *,
        negative: bool = False,
        like: str = "an amount like 110.00",
    ) -> Decimal:
        try:
            value = to_decimal(node[key])
        except ValueError as exc:
            raise self.fail(node, key, path, f"{exc}; write {like}.") from exc
        if value < 0 and not negative:
            raise self.fail(node, key, path, "must not be negative.")
        return value

    def budget(self, node: Any, doc: Any) -> BudgetConfig:
        node = self.mapping(node, doc, "budget", "budget")
        known = {
            "monthly_limit",
            "daily_limit",
            "currency",
            "timezone",
            "alerts",
            "rates",
            "spikes",
            "renewals",
        }
        for key in node:
            if key not in known:
                accepted = ", ".join(sorted(known))
                raise self.fail(
                    node, key, f"budget.{key}", f"unknown key; accepted: {accepted}."
                )
        limit = None
        if node.get("monthly_limit") is not None:
            limit = self.amount(node, "monthly_limit", "budget.monthly_limit")
        daily = None
        if node.get("daily_limit") is not None:
            daily = self.amount(node, "daily_limit", "budget.daily_limit")
        currency = str(node.get("currency", "USD")).strip().upper()
        if not _CURRENCY.match(currency):
            raise self.fail(
                node,
                "currency",
                "budget.currency",
                "must be a three-letter ISO 4217 code such as USD or EUR.",
            )
        timezone = node.get("timezone")
        if timezone is None:
            timezone = system_timezone()
        else:
            timezone = str(timezone)
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise self.fail(
                    node,
                    "timezone",
                    "budget.timezone",
                    f"unknown time zone {timezone!r}; use an IANA name such as "
                    "Europe/Berlin.",
                ) from exc
        alerts = self.alerts(node.get("alerts"), node, "budget.alerts")
        if alerts is None:
            alerts = tuple(
                AlertRule(Decimal(t), DEFAULT_CHANNELS) for t in DEFAULT_THRESHOLDS
            )
        rates = {}
        if node.get("rates") is not None:
            rate_node = self.mapping(node["rates"], node, "rates", "budget.rates")
            for code in rate_node:
                path = f"budget.rates.{code}"
                if not isinstance(code, str) or not _CURRENCY.match(code):
                    raise self.fail(
                        rate_node,
                        code,
                        path,
                        "keys must be currency codes such as EUR.",
                    )
                rate = self.amount(rate_node, code, path)
                if rate == 0:
                    raise self.fail(
                        rate_node, code, path, "a rate of 0 would erase spend."
                    )
                rates[code] = rate
        return BudgetConfig(
            limit,
            currency,
            timezone,
            alerts,
            rates,
            daily_limit=daily,
            spikes=self.spikes(node),
            renewals=self.renewals(node),
        )

    def alerts(self, node: Any, parent: Any, path: str) -> tuple[AlertRule, ...] | None:
        if node is None:
            return None
        if not isinstance(node, list):
            raise self.fail(
                parent, "alerts", path, "must be a list of {threshold, channels}."
            )
        rules = []
        seen: set[Decimal] = set()
        for index, item in enumerate(node):
            where = f"{path}[{index}]"
            item = self.mapping(item, node, index, where)
            self.known_keys(item, where, {"threshold", "channels", "projected"})
            if "threshold" not in item:
                raise self.fail(
                    node, index, where, "needs a threshold in percent, such as 75."
                )
            threshold = self.amount(
                item, "threshold", f"{where}.threshold", like="a percent like 75"
            )
            if threshold == 0:
                raise self.fail(
                    item, "threshold", f"{where}.threshold", "must be above 0 %."
                )
            if threshold in seen:
                raise self.fail(
                    item,
                    "threshold",
                    f"{where}.threshold",
                    f"{threshold} % is listed twice; give each threshold once.",
                )
            seen.add(threshold)
            channels = self.channel_list(item, where, list(DEFAULT_CHANNELS))
            projected = self.flag(item, "projected", f"{where}.projected", True)
            rules.append(AlertRule(threshold, channels, projected))
        return tuple(sorted(rules, key=lambda r: r.threshold))

    def known_keys(self, node: Mapping[str, Any], path: str, known: set[str]) -> None:
        for key in node:
            if key not in known:
                accepted = ", ".join(sorted(known))
                raise self.fail(
                    node, key, f"{path}.{key}", f"unknown key; accepted: {accepted}."
                )

    def channel_list(
        self, node: Mapping[str, Any], path: str, default: list[str]
    ) -> tuple[str, ...]:
        channels = node.get("channels", default)
        if not isinstance(channels, list) or not all(
            isinstance(c, str) for c in channels
        ):
            raise self.fail(
                node, "channels", f"{path}.channels", "must be a list of channel names."
            )
        for name in channels:
            if name not in self.known_channels:
                accepted = ", ".join(sorted(self.known_channels))
                raise self.fail(
                    node,
                    "channels",
                    f"{path}.channels",
                    f"unknown channel {name!r}; define it under notifications, or use "
                    f"one of: {accepted}.",
                )
        return tuple(dict.fromkeys(channels))

    def flag(self, node: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = node.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(node, key, path, "must be true or false.")
        return value

    def whole(
        self, node: Mapping[str, Any], key: str, path: str, default: int, low: int
    ) -> int:
        value = node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(node, key, path, f"must be a whole number from {low} up.")
        return value

    def spikes(self, budget: Mapping[str, Any]) -> SpikeRule:
        node = budget.get("spikes")
        if node is None:
            return SpikeRule()
        path = "budget.spikes"
        node = self.mapping(node, budget, "spikes", path)
        self.known_keys(
            node,
            path,
            {
                "channels",
                "min_amount",
                "min_history",
                "sensitivity",
                "enabled",
                "hours",
            },
        )
        default = SpikeRule()
        hours = self.whole(node, "hours", f"{path}.hours", default.hours, 0)
        if hours and 24 % hours:
            raise self.fail(
                node,
                "hours",
                f"{path}.hours",
                f"{hours} does not divide the day; use 1, 2, 3, 4, 6, 8, 12 or 24, "
                "or 0 to judge whole days only.",
            )
        return SpikeRule(
            channels=self.channel_list(node, path, list(default.channels)),
            min_amount=(
                self.amount(node, "min_amount", f"{path}.min_amount")
                if node.get("min_amount") is not None
                else default.min_amount
            ),
            min_history=self.whole(
                node, "min_history", f"{path}.min_history", default.min_history, 3
            ),
            sensitivity=(
                self.amount(node, "sensitivity", f"{path}.sensitivity")
                if node.get("sensitivity") is not None
                else default.sensitivity
            ),
            enabled=self.flag(node, "enabled", f"{path}.enabled", True),
            hours=hours,
        )

    def renewals(self, budget: Mapping[str, Any]) -> RenewalRule:
        node = budget.get("renewals")
        if node is None:
            return RenewalRule()
        path = "budget.renewals"
        node = self.mapping(node, budget, "renewals", path)
        self.known_keys(node, path, {"days", "channels", "monthly", "enabled"})
        default = RenewalRule()
        return RenewalRule(
            days=self.whole(node, "days", f"{path}.days", default.days, 1),
            channels=self.channel_list(node, path, list(default.channels)),
            monthly=self.flag(node, "monthly", f"{path}.monthly", False),
            enabled=self.flag(node, "enabled", f"{path}.enabled", True),
        )

    def channels(self, node: Any, doc: Any) -> tuple[Channel, ...]:
        node = self.mapping(node, doc, "notifications", "notifications")
        result = []
        for name, entry in node.items():
            path = f"notifications.{name}"
            if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_-]+$", name):
                raise self.fail(
                    node, name, path, "names use letters, digits, '_' and '-'."
                )
            if name in BUILTIN_CHANNELS:
                raise self.fail(
                    node,
                    name,
                    path,
                    f"{name!r} is a built-in channel and needs no entry; pick "
                    "another name.",
                )
            entry = self.mapping(entry or {}, node, name, path)
            kind = str(entry.get("type", ""))
            if not kind:
                if "url" in entry:
                    kind = "apprise"
                elif "smtp_server" in entry:
                    kind = "email"
                elif "webhook_url" in entry:
                    kind = "slack"
                elif name in CHANNEL_FIELDS:
                    kind = name
            if kind not in CHANNEL_FIELDS:
                raise self.fail(
                    node,
                    name,
                    path,
                    "needs an apprise `url`, or `smtp_server` (e-mail) or "
                    "`webhook_url` (Slack), or `type: email|slack|apprise`.",
                )
            self.known_keys(entry, path, CHANNEL_FIELDS[kind] | {"type"})
            for key, value in entry.items():
                if key != "port" and not isinstance(value, str):
                    raise self.fail(entry, key, f"{path}.{key}", "must be text.")
            if "port" in entry:
                self.whole(entry, "port", f"{path}.port", 0, 1)
            secure = str(entry.get("secure", "starttls")).lower()
            if secure not in ("starttls", "ssl", "none"):
                raise self.fail(
                    entry,
                    "secure",
                    f"{path}.secure",
                    "is starttls (the default), ssl, or none for a local server "
                    "without TLS.",
                )
            url = str(entry.get("url", ""))
            if kind == "apprise" and url.lower().startswith(("http://", "https://")):
                raise self.fail(
                    entry,
                    "url",
                    f"{path}.url",
                    "is an apprise URL, whose scheme names the service: json:// "
                    "(jsons:// with TLS) posts a JSON webhook to the same host and "
                    "path; see the apprise wiki for others.",
                )
            result.append(Channel(name, kind, dict(entry), self.at(node, name)))
        return tuple(result)

    def sources(self, node: Any, doc: Any) -> tuple[SourceConfig, ...]:
        node = self.mapping(node, doc, "services", "services")
        sources = []
        for name, entry in node.items():
            path = f"services.{name}"
            if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_.-]+$", name):
                raise self.fail(
                    node, name, path, "names use letters, digits, '_', '-' and '.'."
                )
            if entry is None:
                entry = {}
            entry = self.mapping(entry, node, name, path)
            sources.append(self.source(name, entry, node))
        return tuple(sources)

    def source(self, name: str, entry: Mapping[str, Any], parent: Any) -> SourceConfig:
        path = f"services.{name}"
        kind = str(entry.get("type", name))
        budget_limit = None
        if entry.get("budget_limit") is not None:
            budget_limit = self.amount(entry, "budget_limit", f"{path}.budget_limit")
        settings = dict(entry)
        error = None
        collector = COLLECTOR_TYPES.get(kind)
        if collector is None:
            where = self.at(entry, "type") if "type" in entry else self.at(parent, name)
            if kind in PLANNED_TYPES:
                error = (
                    f"{where}, {path}: type {kind!r} has no collector in this "
                    "version of QOINs yet; its spend cannot be read. Remove the entry, "
                    "or, if the provider exports FOCUS files, list them under a "
                    "`type: focus` entry."
                )
            else:
                accepted = ", ".join(sorted(COLLECTOR_TYPES))
                error = f"{where}, {path}: unknown type {kind!r}; accepted: {accepted}."
        else:
            allowed = SOURCE_COMMON_KEYS | collector.settings_keys
            seed_keys = collector.ignored_keys
            for key in entry:
                if key not in allowed and key not in seed_keys:
                    accepted = ", ".join(sorted(allowed))
                    error = (
                        f"{self.at(entry, key)}, {path}.{key}: unknown key for type "
                        f"{kind!r}; accepted: {accepted}."
                    )
                    break
            if error is None:
                problem = collector.check_settings(settings)
                if problem is not None:
                    key, message = problem
                    error = f"{self.at(entry, key)}, {path}.{key}: {message}"
        if entry.get("enabled") is False or entry.get("tracking_enabled") is False:
            settings["enabled"] = False
        daily_limit = None
        if entry.get("daily_limit") is not None:
            daily_limit = self.amount(entry, "daily_limit", f"{path}.daily_limit")
        alerts = self.alerts(entry.get("alerts"), entry, f"{path}.alerts")
        return SourceConfig(
            name,
            kind,
            settings,
            budget_limit,
            error=error,
            daily_limit=daily_limit,
            alerts=alerts,
        )

    def subscriptions(self, node: Any, doc: Any) -> tuple[Subscription, ...]:
        if not isinstance(node, list):
            raise self.fail(
                doc,
                "subscriptions",
                "subscriptions",
                "must be a list of subscriptions.",
            )
        result = []
        names: set[str] = set()
        for index, item in enumerate(node):
            path = f"subscriptions[{index}]"
            item = self.mapping(item, node, index, path)
            for key in item:
                if key not in SUBSCRIPTION_KEYS:
                    accepted = ", ".join(sorted(SUBSCRIPTION_KEYS))
                    raise self.fail(
                        item,
                        key,
                        f"{path}.{key}",
                        f"unknown key; accepted: {accepted}.",
                    )
            for key in ("name", "amount", "start"):
                if item.get(key) is None:
                    raise self.fail(
                        node,
                        index,
                        path,
                        f"needs {key!r} (a subscription has name, provider, amount, "
                        "currency, period and start).",
                    )
            name = str(item["name"])
            if name in names:
                raise self.fail(
                    item,
                    "name",
                    f"{path}.name",
                    f"{name!r} is listed twice; names must be unique.",
                )
            names.add(name)
            amount = self.amount(item, "amount", f"{path}.amount")
            currency = str(item.get("currency", "USD")).strip().upper()
            if not _CURRENCY.match(currency):
                raise self.fail(
                    item, "currency", f"{path}.currency", "must be a code such as USD."
                )
            period = str(item.get("period", "monthly"))
            if period not in ("monthly", "yearly"):
                raise self.fail(
                    item, "period", f"{path}.period", "must be monthly or yearly."
                )
            seats = item.get("seats", 1)
            if isinstance(seats, bool) or not isinstance(seats, int) or seats < 1:
                raise self.fail(
                    item,
                    "seats",
                    f"{path}.seats",
                    "must be a whole number of at least 1.",
                )
            start = self.date(item, "start", f"{path}.start")
            renews = (
                self.date(item, "renews", f"{path}.renews")
                if item.get("renews")
                else None
            )
            ends = self.date(item, "ends", f"{path}.ends") if item.get("ends") else None
            if ends is not None and ends < start:
                raise self.fail(
                    item, "ends", f"{path}.ends", f"{ends} is before start ({start})."
                )
            result.append(
                Subscription(
                    name=name,
                    provider=str(item.get("provider", name)),
                    amount=amount,
                    currency=currency,
                    period=period,
                    start=start,
                    seats=seats,
                    renews=renews,
                    ends=ends,
                    project=str(item["project"]) if item.get("project") else None,
                    category=str(item["category"]) if item.get("category") else None,
                )
            )
        return tuple(result)

    def date(self, node: Any, key: str, path: str) -> dt.date:
        value = node[key]
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise self.fail(
                node, key, path, f"{value!r} is not a date; write YYYY-MM-DD."
            )
        try:
            return dt.date.fromisoformat(text)
        except ValueError as exc:
            raise self.fail(
                node, key, path, f"{text} is not a date of the calendar ({exc})."
            ) from exc

    def prices(self, node: Any, doc: Any) -> tuple[PriceOverride, ...]:
        node = self.mapping(node, doc, "prices", "prices")
        result = []
        for model, entry in node.items():
            path = f"prices.{model}"
            entry = self.mapping(entry, node, model, path)
            values: dict[str, Decimal] = {}
            tier: dict[str, Decimal] = {}
            threshold = None
            provider = None
            aliases: tuple[str, ...] = ()
            for key in entry:
                kpath = f"{path}.{key}"
                if key in PRICE_FIELDS:
                    values[key] = self.rate(entry, key, kpath)
                elif match := _TIER_KEY.match(str(key)):
                    tier[match.group(1)] = self.rate(entry, key, kpath)
                    above = int(match.group(2)) * 1000
                    if threshold is not None and threshold != above:
                        raise self.fail(
                            entry,
                            key,
                            kpath,
                            "all tier prices of a model must use one threshold.",
                        )
                    threshold = above
                elif key == "tier_threshold":
                    value = entry[key]
                    if (
                        isinstance(value, bool)
                        or not isinstance(value, int)
                        or value <= 0
                    ):
                        raise self.fail(
                            entry,
                            key,
                            kpath,
                            "must be a whole number of tokens, such as 200000.",
                        )
                    if threshold is not None and threshold != value:
                        raise self.fail(
                            entry, key, kpath, "disagrees with the *_above_Nk keys."
                        )
                    threshold = value
                elif key == "provider":
                    provider = str(entry[key]).lower()
                elif key == "aliases":
                    raw = entry[key]
                    if not isinstance(raw, list) or not all(
                        isinstance(a, str) for a in raw
                    ):
                        raise self.fail(
                            entry, key, kpath, "must be a list of model names."
                        )
                    aliases = tuple(a.lower() for a in raw)
                else:
                    accepted = ", ".join(
                        [
                            *PRICE_FIELDS,
                            "<field>_above_<N>k",
                            "tier_threshold",
                            "provider",
                            "aliases",
                        ]
                    )
                    raise self.fail(
                        entry, key, kpath, f"unknown key; accepted: {accepted}."
                    )
            if tier and threshold is None:
                raise self.fail(node, model, path, "tier prices need a tier_threshold.")
            if (
                "cache_read" in values
                and "input" in values
                and values["cache_read"] >= values["input"]
            ):
                self.warnings.append(
                    f"{self.at(entry, 'cache_read')}, {path}.cache_read: is not below "
                    "the input rate; check the figures."
                )
            result.append(
                PriceOverride(
                    model=str(model).lower(),
                    provider=provider,
                    tier_threshold=threshold,
                    tier=tier,
                    aliases=aliases,
                    **values,
                )
            )
        return tuple(result)

    def rate(self, node: Any, key: str, path: str) -> Decimal:
        value = self.amount(node, key, path)
        if value and value < Decimal("0.0001"):
            raise self.fail(
                node,
                key,
                path,
                f"{value} looks like a price per token; prices here are USD per "
                "million tokens (3e-06 per token is 3.00).",
            )
        if value > 10000:
            raise self.fail(
                node,
                key,
                path,
                f"{value} USD per million tokens is implausible; check the unit.",
            )
        return value
