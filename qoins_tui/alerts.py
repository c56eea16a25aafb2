"""Alert rules: budget thresholds, projections, daily limits, spikes (of a day and
within a day) and renewals.

:func:`evaluate` is pure: given the figures of the moment (:class:`Situation`) it
lists every alert whose condition holds now. :func:`reconcile` compares that with
the alerts already stored, so each rule fires once per scope and period and again
only after its condition cleared and came back. :func:`check_alerts` reads the
store, runs both, stores what is new and delivers every pending or failed delivery;
a front end shows what it returns (``qoins --refresh`` prints, the app toasts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from filelock import FileLock, Timeout

from collectors.subscriptions import Subscription, billing_dates
from qoins_tui import analysis
from qoins_tui.analysis import Month
from qoins_tui.config import AlertRule, Settings
from qoins_tui.errors import QoinsError
from qoins_tui.money import format_money, format_percent
from qoins_tui.notify import DeliveryError, Notice
from qoins_tui.refresh import SUBSCRIPTIONS
from qoins_tui.store import AlertDraft, AlertRecord, Store
from qoins_tui.summary import build_summary, due_after, local_today, month_query

THRESHOLD_KINDS = ("actual", "projected", "daily")
CHECK_WAIT_S = 120.0
"""How long a check waits for another process's: long enough for its deliveries,
each of which gives up after seconds."""
PROJECTION_MIN_DAYS = 3
"""Complete days of the month before a projection may raise an alert: the first
days' average says little about the month."""
PROJECTION_HYSTERESIS = Decimal(5)
"""A projected alert clears only when the projection falls this many percentage
points below its threshold, so a projection wobbling around a threshold does not
alert every other day."""
SPIKE_WINDOW = 28
"""Days of history a day, or a window within a day, is compared with."""
WINDOWS_PER_DAY = 3
"""Active windows per day of ``min_history`` a source needs before its windows
within a day are judged: a few busy hours on each of those days."""
MAD_SCALE = Decimal("1.4826")
"""Makes the median absolute deviation comparable to a standard deviation."""
RETRY_DAYS = 7
"""A failed delivery is tried again on every refresh for this many days."""
URGENT_FROM = Decimal(90)


@dataclass(frozen=True)
class RuleRow:
    """One rule as the Alerts tab's rules view lists it."""

    scope: str
    rule: str
    condition: str
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Scope:
    """One budget's figures at the moment of judging."""

    name: str
    """``total`` or a source's name."""
    monthly: Decimal | None
    daily: Decimal | None
    rules: tuple[AlertRule, ...]
    spent: Decimal
    projected: Decimal | None
    today: Decimal
    """Spent so far on the local day being judged."""
    rate: Decimal | None = None
    """Average spend per complete day of the month."""
    due: Decimal = Decimal(0)
    """Subscription charges still to come this month after today."""


@dataclass(frozen=True)
class Situation:
    """Everything the rules judge, read from the store at one moment."""

    month: Month
    today: dt.date
    currency: str
    scopes: Sequence[Scope]
    largest: Sequence[tuple[str, Decimal]] = ()
    """This month's spend per source, largest first, for suggestions."""
    usage: Mapping[str, Mapping[dt.date, Decimal]] = field(default_factory=dict)
    """Gross spend per source and local day over the spike window and today."""
    subscriptions: Sequence[Subscription] = ()
    clock: dt.time = dt.time()
    """The local time of day of the moment judged."""
    windows: Mapping[str, Mapping[dt.datetime, Decimal]] = field(default_factory=dict)
    """Gross spend of charges timed within the day, per source and window of
    ``budget.spikes.hours`` (keyed by its local start), from the spike window's
    length before yesterday on; windows without spend are absent."""

    @property
    def complete_days(self) -> int:
        return (self.today - self.month.first_day).days

    @property
    def days_left(self) -> int:
        return analysis.days_left(self.month, self.today)


@dataclass(frozen=True)
class Judgement:
    """What :func:`evaluate` found: the alerts whose condition holds, and which
    (kind, scope, period) it judged, so alerts of those whose condition no longer
    holds can clear."""

    drafts: list[AlertDraft]
    judged: set[tuple[str, str, str]]
    holding: set[tuple[str, str, str, str]] = field(default_factory=set)
    """(kind, scope, period, rule) of stored alerts that may stay open although
    their own condition is not met (a projection inside its hysteresis band)."""


# -- the rules in words ---------------------------------------------------------------


def rule_rows(settings: Settings) -> list[RuleRow]:
    """Every rule the settings define, in words, for the rules view."""
    budget = settings.budget
    currency = budget.currency
    rows = []
    scopes: list[tuple[str, Decimal | None, Decimal | None, tuple[AlertRule, ...]]]
    scopes = [("total", budget.monthly_limit, budget.daily_limit, budget.alerts)]
    for source in settings.sources:
        if source.budget_limit is not None or source.daily_limit is not None:
            rules = source.alerts if source.alerts is not None else budget.alerts
            scopes.append((source.name, source.budget_limit, source.daily_limit, rules))
    for name, monthly, daily, rules in scopes:
        for rule in rules:
            level = _pct(rule.threshold)
            if monthly is not None:
                limit = format_money(monthly, currency)
                rows.append(
                    RuleRow(
                        name,
                        f"{level} used",
                        f"the month's spend reaches {level} of {limit}",
                        rule.channels,
                    )
                )
                if rule.projected:
                    rows.append(
                        RuleRow(
                            name,
                            f"projected {level}",
                            f"the month-end projection reaches {level} of {limit} "
                            "first",
                            rule.channels,
                        )
                    )
            if daily is not None:
                rows.append(
                    RuleRow(
                        name,
                        f"daily {level}",
                        f"a day's spend reaches {level} of "
                        f"{format_money(daily, currency)}",
                        rule.channels,
                    )
                )
    spikes = budget.spikes
    if spikes.enabled:
        within = f", or {_hours(spikes.hours)} of logged usage," if spikes.hours else ""
        rows.append(
            RuleRow(
                "each source",
                "spike",
                f"a day{within} at least {format_money(spikes.min_amount, currency)} "
                f"and {_number(spikes.sensitivity)} MADs above its usual level, after "
                f"{spikes.min_history} days of history",
                spikes.channels,
            )
        )
    renewals = budget.renewals
    if renewals.enabled and settings.subscriptions:
        which = "a subscription" if renewals.monthly else "a yearly subscription"
        rows.append(
            RuleRow(
                "subscriptions",
                "renewal",
                f"{which} renews, or any ends, within {renewals.days} "
                f"day{'s' if renewals.days != 1 else ''}",
                renewals.channels,
            )
        )
    return rows


# -- judging --------------------------------------------------------------------------


def evaluate(settings: Settings, situation: Situation) -> Judgement:
    """Every alert whose condition holds in ``situation``."""
    drafts: list[AlertDraft] = []
    judged: set[tuple[str, str, str]] = set()
    holding: set[tuple[str, str, str, str]] = set()
    month = str(situation.month)
    day = situation.today.isoformat()
    for scope in situation.scopes:
        if scope.monthly is not None:
            judged.add(("actual", scope.name, month))
            crossed = _crossed(scope.rules, scope.spent, scope.monthly)
            drafts += _covering(
                [_actual(situation, scope, rule) for rule in crossed], crossed
            )
            if situation.complete_days >= PROJECTION_MIN_DAYS:
                judged.add(("projected", scope.name, month))
                drafts_p, holding_p = _projected(situation, scope)
                drafts += drafts_p
                holding |= holding_p
        if scope.daily is not None:
            judged.add(("daily", scope.name, day))
            crossed = _crossed(scope.rules, scope.today, scope.daily)
            drafts += _covering(
                [_daily(situation, scope, rule) for rule in crossed], crossed
            )
    spikes = settings.budget.spikes
    if spikes.enabled:
        within = _window_spikes(settings, situation) if spikes.hours else []
        drafts += _covered_by(_spikes(settings, situation), within)
        drafts += within
    renewals = settings.budget.renewals
    if renewals.enabled:
        drafts += _renewals(settings, situation)
    return Judgement(drafts, judged, holding)


def reconcile(
    judgement: Judgement, stored: Iterable[AlertRecord]
) -> tuple[list[AlertDraft], list[int]]:
    """The drafts that are new, and the stored open alerts whose condition cleared.

    An alert is new when no open stored alert has its rule, scope and period. A
    stored threshold alert whose (kind, scope, period) was judged and whose rule no
    longer holds has cleared; it fires again when it next holds. Spikes and renewals
    are facts about a day and never clear.
    """
    holds = {(d.kind, d.scope, d.period, d.rule) for d in judgement.drafts}
    keep = holds | judgement.holding
    cleared = []
    open_keys = set()
    for alert in stored:
        if alert.cleared_at is not None:
            continue
        key = (alert.kind, alert.scope, alert.period, alert.rule)
        if (
            alert.kind in THRESHOLD_KINDS
            and (alert.kind, alert.scope, alert.period) in judgement.judged
            and key not in keep
        ):
            cleared.append(alert.alert_id)
        else:
            open_keys.add(key)
    new = [
        d
        for d in judgement.drafts
        if (d.kind, d.scope, d.period, d.rule) not in open_keys
    ]
    return new, cleared


def _crossed(
    rules: Sequence[AlertRule], value: Decimal, limit: Decimal
) -> list[AlertRule]:
    """The rules whose threshold ``value`` has reached; a zero limit is reached by
    any spending."""
    if limit == 0:
        return list(rules) if value > 0 else []
    return [r for r in rules if value * 100 >= r.threshold * limit]


def _covering(drafts: list[AlertDraft], rules: list[AlertRule]) -> list[AlertDraft]:
    """Of thresholds crossed together, only the highest is delivered; the lower ones
    are stored as covered, so they do not fire on the next refresh."""
    if not drafts:
        return []
    top = max(range(len(rules)), key=lambda i: rules[i].threshold)
    return [d if i == top else _replace_covered(d) for i, d in enumerate(drafts)]


def _replace_covered(draft: AlertDraft) -> AlertDraft:
    return replace(draft, covered=True, channels=())


def _actual(situation: Situation, scope: Scope, rule: AlertRule) -> AlertDraft:
    level = _pct(rule.threshold)
    urgent = rule.threshold >= URGENT_FROM
    what = "Budget" if scope.name == "total" else f"{scope.name} Budget"
    return _monthly_draft(
        situation,
        scope,
        rule,
        "actual",
        "critical" if urgent else "warning",
        f"QOINs {'URGENT' if urgent else 'Alert'}: {level} {what} Used",
    )


def _monthly_draft(
    situation: Situation,
    scope: Scope,
    rule: AlertRule,
    kind: str,
    severity: str,
    title: str,
) -> AlertDraft:
    """An alert on a month's budget: the spend, the projection, the days left and
    one suggestion."""
    assert scope.monthly is not None
    currency = situation.currency
    lines = [_current_line(scope, currency)]
    if scope.projected is not None:
        lines.append(_projected_line(scope, currency))
    lines.append(f"Days Remaining: {situation.days_left}")
    lines.append(f"Recommendation: {_suggestion(situation, scope)}")
    return AlertDraft(
        rule=f"{kind}:{_number(rule.threshold)}",
        kind=kind,
        scope=scope.name,
        period=str(situation.month),
        severity=severity,
        title=title,
        message="\n".join(lines),
        currency=currency,
        channels=rule.channels,
        amount=scope.spent,
        budget=scope.monthly,
        projected=scope.projected,
        threshold=rule.threshold,
    )


def _projected(
    situation: Situation, scope: Scope
) -> tuple[list[AlertDraft], set[tuple[str, str, str, str]]]:
    """Thresholds the projection reaches before the spend does; and the rules inside
    the hysteresis band, whose stored alerts stay open."""
    assert scope.monthly is not None
    if scope.projected is None:
        return [], set()
    period = str(situation.month)
    rules = [r for r in scope.rules if r.projected]
    actual = set(map(id, _crossed(rules, scope.spent, scope.monthly)))
    reached = [
        r
        for r in _crossed(rules, scope.projected, scope.monthly)
        if id(r) not in actual
    ]
    band = [
        r
        for r in rules
        if id(r) not in actual
        and scope.projected * 100
        >= (r.threshold - PROJECTION_HYSTERESIS) * scope.monthly
    ]
    holding = {
        ("projected", scope.name, period, f"projected:{_number(r.threshold)}")
        for r in band
    }
    drafts = []
    for rule in reached:
        level = _pct(rule.threshold)
        what = "the budget" if scope.name == "total" else f"the {scope.name} budget"
        drafts.append(
            _monthly_draft(
                situation,
                scope,
                rule,
                "projected",
                "warning",
                f"QOINs Alert: Projected to Reach {level} of {what}",
            )
        )
    return _covering(drafts, reached), holding


def _daily(situation: Situation, scope: Scope, rule: AlertRule) -> AlertDraft:
    assert scope.daily is not None
    currency = situation.currency
    level = _pct(rule.threshold)
    urgent = rule.threshold >= URGENT_FROM
    what = "Daily Budget" if scope.name == "total" else f"{scope.name} Daily Budget"
    spent = format_money(scope.today, currency)
    limit = format_money(scope.daily, currency)
    share = analysis.percent(scope.today, scope.daily)
    lines = [
        f"Today: {spent} / {limit}"
        + (f" ({format_percent(share)})" if share is not None else ""),
        f"Day: {situation.today.isoformat()}",
        "Recommendation: "
        + (
            f"pause {scope.name} for the rest of the day, or raise its daily_limit"
            if scope.name != "total"
            else f"hold the rest of today's work to "
            f"{format_money(max(scope.daily - scope.today, Decimal(0)), currency)}, "
            "or raise budget.daily_limit"
        ),
    ]
    return AlertDraft(
        rule=f"daily:{_number(rule.threshold)}",
        kind="daily",
        scope=scope.name,
        period=situation.today.isoformat(),
        severity="critical" if urgent else "warning",
        title=f"QOINs {'URGENT' if urgent else 'Alert'}: {level} of {what} Used",
        message="\n".join(lines),
        currency=currency,
        channels=rule.channels,
        amount=scope.today,
        budget=scope.daily,
        threshold=rule.threshold,
    )


def spike_level(
    history: Sequence[Decimal],
    value: Decimal,
    *,
    min_amount: Decimal,
    sensitivity: Decimal,
) -> Decimal | None:
    """The usual level ``value`` stands out from, or None when it does not.

    The usual level is the median of ``history``; the spread its median absolute
    deviation, scaled by 1.4826 to compare with a standard deviation. A day is a
    spike when it lies at least ``min_amount`` above the median and at least
    ``sensitivity`` scaled MADs above it: a flat history (MAD 0) leaves the money
    floor alone to decide, and small noise never passes it.
    """
    if not history:
        return None
    usual = _median(history)
    excess = value - usual
    if excess < min_amount:
        return None
    spread = _median([abs(v - usual) for v in history]) * MAD_SCALE
    if spread > 0 and excess < sensitivity * spread:
        return None
    return usual


def _spikes(settings: Settings, situation: Situation) -> list[AlertDraft]:
    rule = settings.budget.spikes
    currency = situation.currency
    drafts = []
    for source, series in sorted(situation.usage.items()):
        if source == SUBSCRIPTIONS or not series:
            continue
        first = min(series)
        for day in (situation.today - dt.timedelta(days=1), situation.today):
            start = max(first, day - dt.timedelta(days=SPIKE_WINDOW))
            history = [
                series.get(start + dt.timedelta(i), Decimal(0))
                for i in range((day - start).days)
            ]
            if len(history) < rule.min_history:
                continue
            value = series.get(day, Decimal(0))
            usual = spike_level(
                history,
                value,
                min_amount=rule.min_amount,
                sensitivity=rule.sensitivity,
            )
            if usual is None:
                continue
            when = "today" if day == situation.today else f"on {_day(day)}"
            drafts.append(
                AlertDraft(
                    rule="spike",
                    kind="spike",
                    scope=source,
                    period=day.isoformat(),
                    severity="warning",
                    title="QOINs Alert: Unusual Spending Detected",
                    message="\n".join(
                        [
                            f"Service: {source}",
                            f"Spike: {format_money(value, currency)} {when} "
                            f"(vs. {format_money(usual, currency)} usual per day)",
                            f"Action: look at what ran in {source} {when}: "
                            "a loop, a retry storm or a larger model",
                        ]
                    ),
                    currency=currency,
                    channels=rule.channels,
                    amount=value,
                    projected=None,
                    budget=usual,
                )
            )
    return drafts


def _window_spikes(settings: Settings, situation: Situation) -> list[AlertDraft]:
    """Windows of ``budget.spikes.hours`` far above the source's usual window: the
    median and MAD of its active windows (those with spend) over the spike window,
    judged as :func:`spike_level` judges days. The current window, still running,
    and the one before it are judged."""
    rule = settings.budget.spikes
    currency = situation.currency
    length = dt.timedelta(hours=rule.hours)
    hour = situation.clock.hour // rule.hours * rule.hours
    current = dt.datetime.combine(situation.today, dt.time(hour))
    drafts = []
    for source, series in sorted(situation.windows.items()):
        for start in (current - length, current):
            since = start - dt.timedelta(days=SPIKE_WINDOW)
            history = {w: v for w, v in series.items() if since <= w < start}
            days = {w.date() for w in history}
            if (
                len(days) < rule.min_history
                or len(history) < WINDOWS_PER_DAY * rule.min_history
            ):
                continue
            value = series.get(start, Decimal(0))
            usual = spike_level(
                list(history.values()),
                value,
                min_amount=rule.min_amount,
                sensitivity=rule.sensitivity,
            )
            if usual is None:
                continue
            span = _span(start, length, situation.today)
            drafts.append(
                AlertDraft(
                    rule=f"spike-hours:{rule.hours}",
                    kind="spike-hours",
                    scope=source,
                    period=f"{start:%Y-%m-%dT%H}",
                    severity="warning",
                    title=f"QOINs Alert: Unusual {rule.hours}-Hour Spending Detected",
                    message="\n".join(
                        [
                            f"Service: {source}",
                            f"Spike: {format_money(value, currency)} {span} "
                            f"(vs. {format_money(usual, currency)} usual for "
                            f"{_hours(rule.hours)})",
                            f"Action: look at what ran in {source} {span}: "
                            "a loop, a retry storm or a larger model",
                        ]
                    ),
                    currency=currency,
                    channels=rule.channels,
                    amount=value,
                    budget=usual,
                )
            )
    return drafts


def _covered_by(days: list[AlertDraft], windows: list[AlertDraft]) -> list[AlertDraft]:
    """A day's spike found together with a spike within that day is stored covered:
    the window's alert, which says when, is the one delivered."""
    found = {(d.scope, d.period.partition("T")[0]) for d in windows}
    return [_replace_covered(d) if (d.scope, d.period) in found else d for d in days]


def _renewals(settings: Settings, situation: Situation) -> list[AlertDraft]:
    rule = settings.budget.renewals
    today = situation.today
    horizon = today + dt.timedelta(days=rule.days)
    drafts = []
    for sub in situation.subscriptions:
        amount = format_money(sub.charge, sub.currency)
        if sub.ends is not None and today <= sub.ends <= horizon:
            drafts.append(
                AlertDraft(
                    rule="ending",
                    kind="ending",
                    scope=sub.name,
                    period=sub.ends.isoformat(),
                    severity="warning",
                    title=f"QOINs: {sub.name} Ends {_in_days(sub.ends, today)}",
                    message="\n".join(
                        [
                            f"Subscription: {sub.name} ({sub.provider}), "
                            f"{amount} {sub.period}",
                            f"Ends: {sub.ends.isoformat()}",
                            "Action: renew it before then if you still need it, "
                            "or remove it from config.yml",
                        ]
                    ),
                    currency=sub.currency,
                    channels=rule.channels,
                    amount=sub.charge,
                )
            )
            continue
        if sub.period != "yearly" and not rule.monthly:
            continue
        due = sub.renews if sub.renews is not None and sub.renews >= today else None
        if due is None:
            due = next(billing_dates(sub, max(today, sub.start), horizon), None)
        if due is None or due > horizon or (sub.ends is not None and due > sub.ends):
            continue
        drafts.append(
            AlertDraft(
                rule="renewal",
                kind="renewal",
                scope=sub.name,
                period=due.isoformat(),
                severity="info",
                title=f"QOINs: {sub.name} Renews {_in_days(due, today)}",
                message="\n".join(
                    [
                        f"Renewal: {amount} ({sub.period}) for {sub.name} "
                        f"({sub.provider}) on {due.isoformat()}",
                        "Action: cancel before then if you no longer use it",
                    ]
                ),
                currency=sub.currency,
                channels=rule.channels,
                amount=sub.charge,
            )
        )
    return drafts


# -- messages -------------------------------------------------------------------------


def _current_line(scope: Scope, currency: str) -> str:
    assert scope.monthly is not None
    share = analysis.percent(scope.spent, scope.monthly)
    text = (
        f"Current: {format_money(scope.spent, currency)} / "
        f"{format_money(scope.monthly, currency)}"
    )
    return text + (f" ({format_percent(share)})" if share is not None else "")


def _projected_line(scope: Scope, currency: str) -> str:
    assert scope.monthly is not None and scope.projected is not None
    over = " (OVER BUDGET)" if scope.projected > scope.monthly else ""
    return f"Projected: {format_money(scope.projected, currency)}{over}"


def _suggestion(situation: Situation, scope: Scope) -> str:
    """One concrete step: the daily pace that keeps the budget, and where the money
    goes."""
    assert scope.monthly is not None
    currency = situation.currency
    remaining = scope.monthly - scope.spent
    days = situation.days_left
    if scope.name == "total":
        biggest = next(iter(situation.largest), None)
        where = ""
        if biggest is not None and scope.spent > 0:
            name, amount = biggest
            where = (
                f"; the largest is {name} at {format_money(amount, currency)} "
                f"({format_percent(amount / scope.spent * 100)} of the month)"
            )
    else:
        where = ""
    who = "spending" if scope.name == "total" else scope.name
    if remaining <= 0:
        return (
            f"the budget is spent: pause or cap {who} for the rest of the month, "
            f"or raise the budget{where}"
        )
    free = remaining - scope.due
    due = format_money(scope.due, currency)
    if free < 0:
        return (
            f"subscriptions due later this month ({due}) take the month "
            f"{format_money(-free, currency)} past the budget on their own: raise "
            f"the budget, or cancel or move one of them{where}"
        )
    if free == 0:
        return (
            f"the {format_money(remaining, currency)} left is needed by subscriptions "
            f"due later this month: pause usage-billed {who} or raise the budget{where}"
        )
    pace = free / days
    text = (
        f"keep {who} under {format_money(pace, currency)}/day for the "
        f"{days} day{'s' if days != 1 else ''} left"
    )
    if scope.due > 0:
        text += f", after {due} of subscriptions due"
    if scope.rate is not None and scope.rate > pace:
        text += f" (now {format_money(scope.rate, currency)}/day)"
    return text + where


def _pct(value: Decimal) -> str:
    return f"{_number(value)}%"


def _number(value: Decimal) -> str:
    """A percentage or factor without trailing zeros: 75, 87.5."""
    rounded = value.quantize(Decimal("0.1"))
    text = f"{rounded:f}"
    return text.removesuffix(".0")


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b}"


def _span(start: dt.datetime, length: dt.timedelta, today: dt.date) -> str:
    """``between 09:00 and 12:00 today``, ``between 21:00 and 24:00 on 19 Dec``."""
    end = start + length
    until = "24:00" if end.date() > start.date() else f"{end:%H:%M}"
    when = "today" if start.date() == today else f"on {_day(start.date())}"
    return f"between {start:%H:%M} and {until} {when}"


def _hours(hours: int) -> str:
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _in_days(day: dt.date, today: dt.date) -> str:
    days = (day - today).days
    if days == 0:
        return "Today"
    if days == 1:
        return "Tomorrow"
    return f"in {days} Days"


def _median(values: Sequence[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


# -- reading the store and running ----------------------------------------------------


def situation_of(store: Store, settings: Settings, now: dt.datetime) -> Situation:
    """The current month's figures for every budget, read from the store."""
    today = local_today(settings, now)
    month = Month.of(today)
    with store.session():
        summary = build_summary(store, settings, month, now)
        by_source = store.daily_spend_by_source(
            month_query(settings, month.first_day, month.end)
        )
        window = today - dt.timedelta(days=SPIKE_WINDOW)
        usage = store.daily_spend_by_source(
            month_query(settings, window, today + dt.timedelta(days=1)), gross=True
        )
        spikes = settings.budget.spikes
        # The window before the current one may start yesterday: its history
        # reaches a day further back than today's.
        windows = (
            store.window_spend_by_source(
                month_query(
                    settings,
                    window - dt.timedelta(days=1),
                    today + dt.timedelta(days=1),
                ),
                spikes.hours,
            )
            if spikes.enabled and spikes.hours
            else {}
        )
    budget = settings.budget
    scopes = [
        Scope(
            "total",
            budget.monthly_limit,
            budget.daily_limit,
            budget.alerts,
            summary.spent,
            summary.forecast.projected,
            sum((v for d, v in summary.daily if d == today), Decimal(0)),
            summary.forecast.daily_rate,
            due_after(settings, today),
        )
    ]
    spent = {row.name: row.spent for row in summary.sources}
    for source in settings.sources:
        if source.budget_limit is None and source.daily_limit is None:
            continue
        series = by_source.get(source.name, {})
        fc = analysis.forecast(month, today, series, series)
        scopes.append(
            Scope(
                source.name,
                source.budget_limit,
                source.daily_limit,
                source.alerts if source.alerts is not None else budget.alerts,
                spent.get(source.name, Decimal(0)),
                fc.projected,
                series.get(today, Decimal(0)),
                fc.daily_rate,
            )
        )
    largest = sorted(
        ((row.label, row.spent) for row in summary.sources if row.spent > 0),
        key=lambda kv: -kv[1],
    )
    return Situation(
        month=month,
        today=today,
        currency=budget.currency,
        scopes=scopes,
        largest=largest,
        usage=usage,
        subscriptions=settings.subscriptions,
        clock=now.astimezone(budget.zone).time(),
        windows=windows,
    )


Send = Callable[[str, Notice, Settings], None]
"""Delivers a notice on a channel or raises :class:`DeliveryError`: notify.deliver."""


@dataclass(frozen=True)
class DeliveryAttempt:
    alert: AlertRecord
    channel: str
    error: str | None


@dataclass
class AlertRun:
    """What one check did: new alerts, what the front end should show, deliveries."""

    new: list[AlertRecord] = field(default_factory=list)
    shown: list[AlertRecord] = field(default_factory=list)
    """New alerts and older ones still waiting for this front end's channel."""
    cleared: int = 0
    attempts: list[DeliveryAttempt] = field(default_factory=list)

    @property
    def failures(self) -> list[DeliveryAttempt]:
        return [a for a in self.attempts if a.error is not None]


def covered_note(alert: AlertRecord) -> str:
    """Why a covered alert was stored but not sent."""
    if alert.kind == "spike":
        return "not sent: covered by a spike within the day"
    return "not sent: covered by a higher threshold"


def check_alerts(
    settings: Settings,
    store: Store,
    *,
    now: dt.datetime,
    front: Sequence[str],
    send: Send | None,
) -> AlertRun:
    """Judge the rules, store new alerts and clear passed ones, then deliver.

    One check at a time per store, across processes (a cron refresh and the app's):
    the second waits for the first, then finds its alerts stored and sent, so no
    alert goes out twice.

    ``front`` names the channels the calling front end shows itself (``terminal``
    for ``qoins --refresh``; ``toast`` and ``terminal`` in the app): their pending
    deliveries count as sent once returned in :attr:`AlertRun.shown`. ``send``
    delivers every other channel; None (the demo) sends nothing anywhere.
    """
    lock = FileLock(f"{store.path}.alerts.lock", timeout=CHECK_WAIT_S)
    try:
        with lock:
            return _check(settings, store, now=now, front=front, send=send)
    except Timeout as exc:
        raise QoinsError(
            f"Another QOINs process has been checking the alerts of {store.path} "
            f"for over {CHECK_WAIT_S:.0f} s; they are checked on the next refresh.",
            title="Alerts not checked",
        ) from exc


def _check(
    settings: Settings,
    store: Store,
    *,
    now: dt.datetime,
    front: Sequence[str],
    send: Send | None,
) -> AlertRun:
    judgement = evaluate(settings, situation_of(store, settings, now))
    drafts, cleared = reconcile(judgement, store.alerts(open_only=True))
    run = AlertRun(cleared=len(cleared))
    if drafts or cleared:
        run.new = store.save_alerts(drafts, cleared, now)
    shown: dict[int, AlertRecord] = {a.alert_id: a for a in run.new if not a.covered}
    for alert in store.alerts():
        for delivery in alert.deliveries:
            if delivery.status == "sent":
                continue
            if delivery.channel in front:
                store.record_delivery(
                    alert.alert_id, delivery.channel, error=None, at=now
                )
                shown.setdefault(alert.alert_id, alert)
                continue
            if delivery.channel in ("terminal", "toast") or send is None:
                continue
            if delivery.status == "failed" and now - alert.fired_at > dt.timedelta(
                days=RETRY_DAYS
            ):
                continue
            error = _send(send, delivery.channel, alert, settings)
            store.record_delivery(alert.alert_id, delivery.channel, error=error, at=now)
            run.attempts.append(DeliveryAttempt(alert, delivery.channel, error))
    run.shown = sorted(shown.values(), key=lambda a: (a.fired_at, a.alert_id))
    return run


def _send(
    send: Send, channel: str, alert: AlertRecord, settings: Settings
) -> str | None:
    try:
        send(channel, Notice(alert.title, alert.message, alert.severity), settings)
    except DeliveryError as exc:
        return str(exc)
    return None
