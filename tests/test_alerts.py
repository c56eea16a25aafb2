"""Alert rules (issue 4): thresholds on spend and on the projection, daily budgets,
spikes of a day and within a day, renewals; each fires once per rule, scope and
period and again only after it cleared. Every figure below is worked out by hand
in the comments."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest

from collectors.base import Charge, RecordBatch
from qoins_tui.alerts import (
    AlertRun,
    check_alerts,
    rule_rows,
    situation_of,
    spike_level,
)
from qoins_tui.alerts_tab import figures, rule_words
from qoins_tui.analysis import Month
from qoins_tui.config import Settings
from qoins_tui.notify import DeliveryError, Notice
from qoins_tui.store import AlertRecord, Store
from qoins_tui.summary import build_summary
from tests.conftest import make_settings

D = Decimal


def usd(key: str, day: dt.date, amount: str, *, currency: str = "USD") -> Charge:
    return Charge(
        record_key=key,
        provider="OpenAI",
        service="API",
        billed_cost=D(amount),
        currency=currency,
        charge_date=day,
    )


def write(store: Store, source: str, charges: list[Charge]) -> None:
    store.write_records(source, RecordBatch(charges))


def at(month: int, day: int, hour: int = 9, *, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, 0, tzinfo=dt.UTC)


class Recorder:
    """A send that keeps what it was asked to deliver, or fails on named channels."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.sent: list[tuple[str, Notice]] = []
        self.failing = failing or set()

    def __call__(self, channel: str, notice: Notice, settings: Settings) -> None:
        if channel in self.failing:
            raise DeliveryError(f"{channel}: connection refused by 127.0.0.1:9")
        self.sent.append((channel, notice))

    def titles(self, channel: str) -> list[str]:
        return [n.title for c, n in self.sent if c == channel]


def run(settings: Settings, store: Store, now: dt.datetime, send: Recorder) -> AlertRun:
    return check_alerts(settings, store, now=now, front=("terminal",), send=send)


def rules_of(alerts: list[AlertRecord]) -> list[tuple[str, str, bool]]:
    return sorted((a.rule, a.scope, a.covered) for a in alerts)


NO_PROJECTION = """
budget:
  monthly_limit: 110
  alerts:
    - {threshold: 75, channels: [terminal, mail], projected: false}
    - {threshold: 90, channels: [terminal, mail, chat], projected: false}
notifications:
  mail: {url: "json://127.0.0.1:9/mail"}
  chat: {url: "json://127.0.0.1:9/chat"}
"""


@pytest.fixture
def quiet_settings() -> Settings:
    return make_settings(NO_PROJECTION)


# -- thresholds on spend ---------------------------------------------------------------


def test_a_threshold_fires_exactly_at_the_limit(
    store: Store, quiet_settings: Settings
) -> None:
    # 82.50 / 110.00 = 0.75 exactly: 75 % is reached, 90 % (99.00) is not.
    write(store, "openai", [usd("a", dt.date(2026, 12, 10), "82.50")])
    send = Recorder()

    result = run(quiet_settings, store, at(12, 24), send)

    assert rules_of(result.new) == [("actual:75", "total", False)]
    alert = result.new[0]
    assert alert.title == "QOINs Alert: 75% Budget Used"
    assert alert.amount == D("82.50") and alert.budget == D(110)
    assert alert.period == "2026-12"
    # Dec 24 to Dec 31 is 8 days; 27.50 left / 8 = 3.4375 → $3.44/day.
    assert alert.message.splitlines()[0] == "Current: $82.50 / $110.00 (75%)"
    assert "Days Remaining: 8" in alert.message
    assert "keep spending under $3.44/day for the 8 days left" in alert.message
    assert send.titles("mail") == ["QOINs Alert: 75% Budget Used"]
    assert [d.status for d in alert.deliveries] == ["pending", "pending"]
    assert [(d.channel, d.status) for d in store.alerts()[0].deliveries] == [
        ("mail", "sent"),
        ("terminal", "sent"),
    ]


def test_the_daily_pace_leaves_room_for_subscriptions_still_due(
    store: Store,
) -> None:
    # $27.50 left on 24 Dec; Docker's $9.00 falls due on the 28th, so the usage may
    # take $18.50 over the 8 days left: $2.3125 → $2.31/day (not $3.44).
    settings = make_settings(
        NO_PROJECTION + "subscriptions:\n"
        "  - {name: Docker, provider: Docker, amount: 9.00, start: 2026-01-28}\n"
    )
    write(store, "openai", [usd("a", dt.date(2026, 12, 10), "82.50")])

    alert = run(settings, store, at(12, 24), Recorder()).new[0]
    summary = build_summary(store, settings, Month(2026, 12), at(12, 24))

    assert (
        "keep spending under $2.31/day for the 8 days left, after $9.00 of "
        "subscriptions due"
    ) in alert.message
    assert summary.keep_under == D("18.50") / 8


@pytest.mark.parametrize(
    ("docker", "advice"),
    [
        # $27.50 left and $27.50 due on the 28th: nothing left for usage.
        (
            "27.50",
            "the $27.50 left is needed by subscriptions due later this month: pause "
            "usage-billed spending or raise the budget",
        ),
        # $100.00 due against $27.50 left: $72.50 over on the subscription alone.
        (
            "100.00",
            "subscriptions due later this month ($100.00) take the month $72.50 past "
            "the budget on their own: raise the budget, or cancel or move one of them",
        ),
    ],
)
def test_subscriptions_due_that_take_all_that_is_left_say_so(
    store: Store, docker: str, advice: str
) -> None:
    settings = make_settings(
        NO_PROJECTION + "subscriptions:\n"
        f"  - {{name: Docker, provider: Docker, amount: {docker}, "
        "start: 2026-01-28}\n"
    )
    write(store, "openai", [usd("a", dt.date(2026, 12, 10), "82.50")])

    alert = run(settings, store, at(12, 24), Recorder()).new[0]

    assert f"Recommendation: {advice}" in alert.message


def test_one_cent_below_the_threshold_does_not_fire(
    store: Store, quiet_settings: Settings
) -> None:
    write(store, "openai", [usd("a", dt.date(2026, 12, 10), "82.49")])

    assert run(quiet_settings, store, at(12, 24), Recorder()).new == []


def test_seventy_five_then_ninety_each_send_exactly_once(
    store: Store, quiet_settings: Settings
) -> None:
    send = Recorder()
    write(store, "openai", [usd("a", dt.date(2026, 12, 3), "80.00")])
    assert run(quiet_settings, store, at(12, 24), send).new == []

    write(store, "openai", [usd("b", dt.date(2026, 12, 4), "3.00")])  # 83.00: 75.5 %
    first = run(quiet_settings, store, at(12, 24, 10), send)
    again = run(quiet_settings, store, at(12, 24, 11), send)
    write(store, "openai", [usd("c", dt.date(2026, 12, 5), "17.00")])  # 100.00: 90.9 %
    second = run(quiet_settings, store, at(12, 24, 12), send)
    last = run(quiet_settings, store, at(12, 24, 13), send)

    assert rules_of(first.new) == [("actual:75", "total", False)]
    assert again.new == [] and again.attempts == []
    assert rules_of(second.new) == [("actual:90", "total", False)]
    assert last.new == [] and last.attempts == []
    assert send.titles("mail") == [
        "QOINs Alert: 75% Budget Used",
        "QOINs URGENT: 90% Budget Used",
    ]
    assert send.titles("chat") == ["QOINs URGENT: 90% Budget Used"]


def test_thresholds_crossed_together_send_only_the_highest(
    store: Store, quiet_settings: Settings
) -> None:
    # 101.20 / 110 = 92 %: both 75 and 90 are crossed at once.
    write(store, "openai", [usd("a", dt.date(2026, 12, 3), "101.20")])
    send = Recorder()

    result = run(quiet_settings, store, at(12, 24), send)
    later = run(quiet_settings, store, at(12, 25), send)

    assert rules_of(result.new) == [
        ("actual:75", "total", True),
        ("actual:90", "total", False),
    ]
    assert send.titles("mail") == ["QOINs URGENT: 90% Budget Used"]
    assert [a.deliveries for a in result.new if a.covered] == [()]
    assert [a.rule for a in result.shown] == ["actual:90"]
    assert later.new == []


def test_an_alert_clears_when_spend_falls_back_and_fires_when_it_crosses_again(
    store: Store, quiet_settings: Settings
) -> None:
    send = Recorder()
    write(store, "openai", [usd("a", dt.date(2026, 12, 3), "85.00")])  # 77.3 %
    assert rules_of(run(quiet_settings, store, at(12, 20), send).new) == [
        ("actual:75", "total", False)
    ]
    write(store, "openai", [usd("refund", dt.date(2026, 12, 4), "-10.00")])  # 68.2 %
    cleared = run(quiet_settings, store, at(12, 21), send)
    write(store, "openai", [usd("b", dt.date(2026, 12, 5), "10.00")])  # 77.3 % again
    back = run(quiet_settings, store, at(12, 22), send)

    assert cleared.cleared == 1 and cleared.new == []
    assert rules_of(back.new) == [("actual:75", "total", False)]
    assert send.titles("mail") == ["QOINs Alert: 75% Budget Used"] * 2
    assert sorted(a.state for a in store.alerts()) == ["active", "cleared"]


def test_a_new_month_is_a_new_period(store: Store, quiet_settings: Settings) -> None:
    # 30 Nov: 90 of 110 = 81.8 %. 1 Dec: 83 of 110 = 75.5 % of December's budget.
    send = Recorder()
    write(store, "openai", [usd("nov", dt.date(2026, 11, 30), "90.00")])
    november = run(quiet_settings, store, at(11, 30, 22), send)
    write(store, "openai", [usd("dec", dt.date(2026, 12, 1), "83.00")])
    december = run(quiet_settings, store, at(12, 1, 8), send)

    assert [(a.rule, a.period) for a in november.new] == [("actual:75", "2026-11")]
    assert [(a.rule, a.period) for a in december.new] == [("actual:75", "2026-12")]
    # November's alert is about a closed period: it is not judged again, so it
    # stays as it was.
    assert [a.state for a in store.alerts()] == ["active", "active"]


def test_the_last_day_of_the_month_has_one_day_left(
    store: Store, quiet_settings: Settings
) -> None:
    write(store, "openai", [usd("a", dt.date(2026, 12, 31), "99.00")])

    new = run(quiet_settings, store, at(12, 31, 20), Recorder()).new
    alert = next(a for a in new if not a.covered)

    # 11.00 left for the one day left, today included.
    assert alert.rule == "actual:90"
    assert "Days Remaining: 1" in alert.message
    assert "keep spending under $11.00/day for the 1 day left" in alert.message


def test_a_charge_after_local_midnight_on_a_dst_day_counts_for_the_next_month(
    store: Store,
) -> None:
    # Berlin summer time starts on 29 March 2026. 2026-03-31T22:30Z is 00:30 on
    # 1 April in Berlin (UTC+2): it belongs to April's budget, not March's.
    settings = make_settings(
        NO_PROJECTION.replace("budget:\n", "budget:\n  timezone: Europe/Berlin\n")
    )
    late = Charge(
        record_key="late",
        provider="Anthropic",
        service="Claude",
        billed_cost=D("85.00"),
        currency="USD",
        period_start=dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC),
        period_end=dt.datetime(2026, 3, 31, 22, 31, tzinfo=dt.UTC),
        cost_basis="estimated",
    )
    write(store, "claude_code", [late])

    march = run(
        settings, store, dt.datetime(2026, 3, 31, 21, 59, tzinfo=dt.UTC), Recorder()
    )
    april = run(
        settings, store, dt.datetime(2026, 3, 31, 22, 45, tzinfo=dt.UTC), Recorder()
    )

    assert march.new == []
    assert [(a.rule, a.period) for a in april.new] == [("actual:75", "2026-04")]


def test_a_eur_budget_judges_usd_charges_at_the_given_rate(store: Store) -> None:
    # $100 at 0.92 = €92.00 of €100: 92 % passes 90. Counted 1:1 it would be 100 %.
    settings = make_settings(
        "budget:\n  monthly_limit: 100\n  currency: EUR\n  rates: {USD: 0.92}\n"
        "  alerts:\n    - {threshold: 90, projected: false}\n"
        "    - {threshold: 100, projected: false}\n"
    )
    write(store, "openai", [usd("a", dt.date(2026, 12, 2), "100.00")])

    alert = run(settings, store, at(12, 10), Recorder()).new[0]

    assert alert.rule == "actual:90"
    assert alert.amount == D("92.00")
    assert alert.message.splitlines()[0] == "Current: €92.00 / €100.00 (92%)"


def test_a_charge_without_a_rate_is_never_counted_one_to_one(store: Store) -> None:
    # CASES C14, no-path variant: $50 at 0.92 = €46.00 counts; ¥3,000 has no rate
    # and stays out. 46 % of €100 raises nothing; 1:1 it would be "€3,046".
    settings = make_settings(
        "budget:\n  monthly_limit: 100\n  currency: EUR\n  rates: {USD: 0.92}\n"
    )
    write(
        store,
        "openai",
        [
            usd("usd", dt.date(2025, 6, 3), "50.00"),
            usd("jpy", dt.date(2025, 6, 5), "3000", currency="JPY"),
        ],
    )

    situation = situation_of(store, settings, at(6, 6, year=2025))
    result = run(settings, store, at(6, 6, year=2025), Recorder())

    assert situation.scopes[0].spent == D("46.00")
    assert [a.rule for a in result.new if a.kind == "actual"] == []


def test_a_zero_budget_is_reached_by_any_spending(store: Store) -> None:
    settings = make_settings(
        "services:\n  openai:\n    budget_limit: 0\n"
        "budget:\n  alerts:\n    - {threshold: 75, projected: false}\n"
    )
    write(store, "openai", [usd("a", dt.date(2026, 12, 2), "0.01")])

    result = run(settings, store, at(12, 3), Recorder())

    assert [(a.rule, a.scope) for a in result.new] == [("actual:75", "openai")]
    assert result.new[0].title == "QOINs Alert: 75% openai Budget Used"


def test_a_source_budget_uses_its_own_thresholds(store: Store) -> None:
    # openai: 36.00 of 40.00 = 90 %; its own list has only 50 %, which it passed.
    settings = make_settings(
        "services:\n  openai:\n    budget_limit: 40\n"
        "    alerts: [{threshold: 50, projected: false}]\n"
    )
    write(store, "openai", [usd("a", dt.date(2026, 12, 2), "36.00")])

    result = run(settings, store, at(12, 3), Recorder())

    assert [(a.rule, a.scope) for a in result.new] == [("actual:50", "openai")]


# -- the projection --------------------------------------------------------------------


def test_the_projection_alerts_before_the_spend_does(store: Store) -> None:
    # CASES C15 (a): June 2025, $10.00 on each of the complete days 1–11, $3 today.
    # Projection = 110 + 10 × 19 = $300.00; spend so far $113.00 of $250.00 = 45.2 %.
    # 300 / 250 = 120 %: projected 75, 90 and 95 are reached first; 95 is sent.
    settings = make_settings("budget:\n  monthly_limit: 250\n")
    charges = [usd(f"d{d}", dt.date(2025, 6, d), "10.00") for d in range(1, 12)]
    charges.append(usd("today", dt.date(2025, 6, 12), "3.00"))
    write(store, "openai", charges)
    send = Recorder()

    result = check_alerts(
        settings,
        store,
        now=dt.datetime(2025, 6, 12, 14, 0, tzinfo=dt.UTC),
        front=("terminal",),
        send=send,
    )

    assert rules_of(result.new) == [
        ("projected:75", "total", True),
        ("projected:90", "total", True),
        ("projected:95", "total", False),
    ]
    alert = next(a for a in result.new if not a.covered)
    assert alert.title == "QOINs Alert: Projected to Reach 95% of the budget"
    assert alert.projected == D("300.00")
    assert "Projected: $300.00 (OVER BUDGET)" in alert.message
    # $137.00 left over the 19 days left: 7.2105… → $7.21/day, against $10.00/day.
    assert "keep spending under $7.21/day for the 19 days left (now $10.00/day)" in (
        alert.message
    )


def test_a_projection_is_not_judged_in_the_first_days_of_the_month(
    store: Store,
) -> None:
    # Two complete days at $50 project far past $250, but two days say little.
    settings = make_settings("budget:\n  monthly_limit: 250\n")
    write(
        store,
        "openai",
        [usd(f"d{d}", dt.date(2025, 6, d), "50.00") for d in (1, 2)],
    )

    result = run(settings, store, at(6, 3, year=2025), Recorder())

    assert [a.rule for a in result.new] == []


def test_a_projected_alert_holds_inside_five_points_below_its_threshold(
    store: Store,
) -> None:
    # Budget $1,000 for June 2025, judged on 11 June (10 complete days, 20 left).
    # $30/day: 300 + 30 × 20 = $900 = 90 % → projected 90 fires.
    # A refund of $15 on day 10: 285 + 28.5 × 20 = $855 = 85.5 %, inside 85–90: holds.
    # Another $10 refund: 275 + 27.5 × 20 = $825 = 82.5 %: clears.
    settings = make_settings(
        "budget:\n  monthly_limit: 1000\n  alerts: [{threshold: 90}]\n"
    )
    write(
        store,
        "openai",
        [usd(f"d{d}", dt.date(2025, 6, d), "30.00") for d in range(1, 11)],
    )
    now = at(6, 11, year=2025)
    fired = run(settings, store, now, Recorder())
    write(store, "openai", [usd("r1", dt.date(2025, 6, 10), "-15.00")])
    held = run(settings, store, now, Recorder())
    write(store, "openai", [usd("r2", dt.date(2025, 6, 10), "-10.00")])
    dropped = run(settings, store, now, Recorder())

    assert [a.rule for a in fired.new] == ["projected:90"]
    assert fired.new[0].projected == D(900)
    assert held.cleared == 0 and held.new == []
    assert dropped.cleared == 1


def test_a_projected_alert_clears_when_the_spend_itself_crosses(store: Store) -> None:
    settings = make_settings(
        "budget:\n  monthly_limit: 1000\n  alerts: [{threshold: 90}]\n"
    )
    write(
        store,
        "openai",
        [usd(f"d{d}", dt.date(2025, 6, d), "30.00") for d in range(1, 11)],
    )
    now = at(6, 11, year=2025)
    run(settings, store, now, Recorder())
    write(store, "openai", [usd("big", dt.date(2025, 6, 11), "600.00")])  # 900 spent

    crossed = run(settings, store, now, Recorder())

    # $600 in one day against $30 days is a spike as well.
    assert [a.rule for a in crossed.new] == ["actual:90", "spike"]
    assert crossed.cleared == 1


# -- daily budgets ---------------------------------------------------------------------


def test_a_daily_budget_fires_once_per_day(store: Store) -> None:
    # $8.00 of $10.00 today = 80 % passes 75; tomorrow is a new period.
    settings = make_settings(
        "budget:\n  daily_limit: 10\n  alerts: [{threshold: 75}, {threshold: 100}]\n"
    )
    send = Recorder()
    write(store, "openai", [usd("a", dt.date(2026, 12, 3), "8.00")])
    today = run(settings, store, at(12, 3, 15), send)
    again = run(settings, store, at(12, 3, 16), send)
    write(store, "openai", [usd("b", dt.date(2026, 12, 4), "11.00")])
    tomorrow = run(settings, store, at(12, 4, 15), send)

    assert [(a.rule, a.period) for a in today.new] == [("daily:75", "2026-12-03")]
    assert today.new[0].message.splitlines()[0] == "Today: $8.00 / $10.00 (80%)"
    assert again.new == []
    assert rules_of(tomorrow.new) == [
        ("daily:100", "total", False),
        ("daily:75", "total", True),
    ]
    assert [a.period for a in tomorrow.new] == ["2026-12-04"] * 2
    # Yesterday's alert is about a past day: not judged again, not cleared.
    assert sorted(a.state for a in store.alerts()) == ["active"] * 3


def test_a_daily_budget_on_the_autumn_dst_day_covers_its_25_hours(
    store: Store,
) -> None:
    # 25 October 2026 in Berlin runs from 22:00Z on the 24th to 23:00Z on the 25th.
    # Charges at 22:10Z on the 24th and 22:50Z on the 25th are both on the 25th.
    settings = make_settings(
        "budget:\n  timezone: Europe/Berlin\n  daily_limit: 10\n"
        "  alerts: [{threshold: 100}]\n"
    )

    def estimate(key: str, when: dt.datetime, amount: str) -> Charge:
        return Charge(
            record_key=key,
            provider="Anthropic",
            service="Claude",
            billed_cost=D(amount),
            currency="USD",
            period_start=when,
            period_end=when + dt.timedelta(minutes=1),
            cost_basis="estimated",
        )

    write(
        store,
        "claude_code",
        [
            estimate("early", dt.datetime(2026, 10, 24, 22, 10, tzinfo=dt.UTC), "6"),
            estimate("late", dt.datetime(2026, 10, 25, 22, 50, tzinfo=dt.UTC), "4"),
        ],
    )

    result = run(
        settings, store, dt.datetime(2026, 10, 25, 22, 55, tzinfo=dt.UTC), Recorder()
    )

    assert [(a.rule, a.period, a.amount) for a in result.new] == [
        ("daily:100", "2026-10-25", D(10))
    ]


# -- spikes ----------------------------------------------------------------------------


def test_a_spike_against_a_flat_history_needs_only_the_money_floor() -> None:
    # Median 2.00, MAD 0: 7.00 is 5.00 above (the floor) → a spike; 6.99 is not.
    flat = [D(2)] * 10
    assert spike_level(flat, D(7), min_amount=D(5), sensitivity=D(5)) == D(2)
    assert spike_level(flat, D("6.99"), min_amount=D(5), sensitivity=D(5)) is None


def test_a_spike_against_a_noisy_history_needs_the_spread_as_well() -> None:
    # History 1..9: median 5, deviations 4,3,2,1,0,1,2,3,4 → MAD 2, × 1.4826 =
    # 2.9652; five of those = 14.826. 19.83 is 14.83 above: a spike; 19.80 is
    # 14.80 above: past the $5 floor but inside the noise.
    noisy = [D(v) for v in range(1, 10)]
    assert spike_level(noisy, D("19.83"), min_amount=D(5), sensitivity=D(5)) == D(5)
    assert spike_level(noisy, D("19.80"), min_amount=D(5), sensitivity=D(5)) is None


def test_small_noise_never_alerts_however_far_from_the_usual() -> None:
    # Cents a day, then 40 cents: 20 × the usual, but under the $5 floor.
    assert (
        spike_level([D("0.02")] * 20, D("0.40"), min_amount=D(5), sensitivity=D(5))
        is None
    )


def test_a_spike_day_alerts_once_with_the_seed_message(store: Store) -> None:
    # Ten days at $2.30 before 20 Dec, then $15.20 on the 20th.
    settings = make_settings("")
    days = [dt.date(2026, 12, d) for d in range(10, 20)]
    write(
        store,
        "openai",
        [usd(f"d{d.day}", d, "2.30") for d in days]
        + [usd("spike", dt.date(2026, 12, 20), "15.20")],
    )
    send = Recorder()

    result = run(settings, store, at(12, 20, 18), send)
    again = run(settings, store, at(12, 21, 9), send)

    spikes = [a for a in result.new if a.kind == "spike"]
    assert [(a.scope, a.period) for a in spikes] == [("openai", "2026-12-20")]
    assert spikes[0].title == "QOINs Alert: Unusual Spending Detected"
    assert spikes[0].message.splitlines()[:2] == [
        "Service: openai",
        "Spike: $15.20 today (vs. $2.30 usual per day)",
    ]
    assert [a for a in again.new if a.kind == "spike"] == []


def test_a_source_with_too_little_history_has_no_spikes(store: Store) -> None:
    # Six days of history, one short of the default seven.
    settings = make_settings("")
    write(
        store,
        "openai",
        [usd(f"d{d}", dt.date(2026, 12, d), "1.00") for d in range(14, 20)]
        + [usd("big", dt.date(2026, 12, 20), "50.00")],
    )

    result = run(settings, store, at(12, 20, 18), Recorder())

    assert [a for a in result.new if a.kind == "spike"] == []


# -- spikes within a day -------------------------------------------------------------


def timed(key: str, when: dt.datetime, amount: str) -> Charge:
    """An agent log's response: an instant (a minute here), no provider date."""
    start = when.astimezone(dt.UTC)
    return Charge(
        record_key=key,
        provider="Anthropic",
        service="Claude",
        billed_cost=D(amount),
        currency="USD",
        period_start=start,
        period_end=start + dt.timedelta(minutes=1),
        cost_basis="estimated",
    )


def busy_days(
    days: list[dt.date], amounts: tuple[str, str, str], zone: dt.tzinfo = dt.UTC
) -> list[Charge]:
    """On each day one response at 10:00, 13:00 and 16:00 local time: the windows
    09–12, 12–15 and 15–18, with ``amounts``."""
    return [
        timed(
            f"h{day.isoformat()}-{hour}",
            dt.datetime.combine(day, dt.time(hour), zone),
            amount,
        )
        for day in days
        for hour, amount in zip((10, 13, 16), amounts, strict=True)
    ]


DECEMBER_HISTORY = [dt.date(2026, 12, d) for d in range(10, 20)]


def test_a_window_far_above_a_flat_history_alerts_once_and_covers_the_day(
    store: Store,
) -> None:
    # 10–19 Dec: three windows of $2.00 a day, 30 active windows on 10 days (7 and
    # 21 needed). Median $2.00, MAD 0. On the 20th, $2.00 at 10:00, then $10.00 at
    # 12:10 and $20.00 at 13:20: the window 12–15 holds $30.00, $28.00 above the
    # median (the floor is $5); 09–12 holds $2.00, nothing above it.
    # The day, $32.00 against $6.00 every day, is a spike as well: stored covered.
    settings = make_settings("")
    write(
        store,
        "claude_code",
        [
            *busy_days(DECEMBER_HISTORY, ("2.00", "2.00", "2.00")),
            timed("a", dt.datetime(2026, 12, 20, 10, tzinfo=dt.UTC), "2.00"),
            timed("b", dt.datetime(2026, 12, 20, 12, 10, tzinfo=dt.UTC), "10.00"),
            timed("c", dt.datetime(2026, 12, 20, 13, 20, tzinfo=dt.UTC), "20.00"),
        ],
    )
    send = Recorder()

    first = run(settings, store, at(12, 20, 13) + dt.timedelta(minutes=30), send)
    again = run(settings, store, at(12, 20, 14), send)
    next_window = run(settings, store, at(12, 20, 15), send)

    assert rules_of(first.new) == [
        ("spike", "claude_code", True),
        ("spike-hours:3", "claude_code", False),
    ]
    within = next(a for a in first.new if a.kind == "spike-hours")
    assert within.period == "2026-12-20T12"
    assert (within.amount, within.budget) == (D("30.00"), D("2.00"))
    assert within.severity == "warning"
    assert within.title == "QOINs Alert: Unusual 3-Hour Spending Detected"
    assert within.message.splitlines() == [
        "Service: claude_code",
        "Spike: $30.00 between 12:00 and 15:00 today (vs. $2.00 usual for 3 hours)",
        "Action: look at what ran in claude_code between 12:00 and 15:00 today: a "
        "loop, a retry storm or a larger model",
    ]
    assert [(d.channel, d.status) for d in within.deliveries] == [
        ("terminal", "pending"),
        ("toast", "pending"),
    ]
    day = next(a for a in first.new if a.kind == "spike")
    assert (day.period, day.amount, day.deliveries) == ("2026-12-20", D(32), ())
    assert [a.rule for a in first.shown] == ["spike-hours:3"]
    assert (rule_words(within), figures(within)) == (
        "spike 3h",
        ("$30.00", "$2.00 usual"),
    )
    # 14:00 judges 12–15 again, 15:00 judges it as the window before: both stored.
    assert again.new == [] and next_window.new == []


def test_the_same_window_against_a_noisy_history_does_not_alert(
    store: Store,
) -> None:
    # 10–19 Dec: $1.00, $5.00 and $9.00 in the windows 09–12, 12–15, 15–18. Of the
    # 30 windows, the median is $5.00; the deviations are ten 4s, ten 0s and ten
    # 4s, so the MAD is 4, × 1.4826 = 5.9304, five of those 29.652. The $30.00 in
    # 12–15 lies $25.00 above the median: past the floor, inside the noise.
    # $4.66 more makes it $34.66, $29.66 above: a spike.
    # The day ($30.00 against $15.00 every day, MAD 0) is a spike on its own and,
    # with no window to cover it, is delivered.
    settings = make_settings("")
    write(
        store,
        "claude_code",
        [
            *busy_days(DECEMBER_HISTORY, ("1.00", "5.00", "9.00")),
            timed("big", dt.datetime(2026, 12, 20, 13, 20, tzinfo=dt.UTC), "30.00"),
        ],
    )

    noisy = run(settings, store, at(12, 20, 14), Recorder())
    write(
        store,
        "claude_code",
        [timed("more", dt.datetime(2026, 12, 20, 14, 10, tzinfo=dt.UTC), "4.66")],
    )
    past = run(settings, store, at(12, 20, 14) + dt.timedelta(minutes=30), Recorder())

    assert rules_of(noisy.new) == [("spike", "claude_code", False)]
    assert [(a.rule, a.period, a.amount, a.budget) for a in past.new] == [
        ("spike-hours:3", "2026-12-20T12", D("34.66"), D(5))
    ]


def test_a_window_less_than_the_floor_above_the_usual_never_alerts(
    store: Store,
) -> None:
    # Flat $2.00 windows; $6.99 in 12–15 is 3.5 × the usual but only $4.99 above
    # it, under the $5 floor. The day, $6.99 against $6.00, is no spike either.
    settings = make_settings("")
    write(
        store,
        "claude_code",
        [
            *busy_days(DECEMBER_HISTORY, ("2.00", "2.00", "2.00")),
            timed("big", dt.datetime(2026, 12, 20, 13, 20, tzinfo=dt.UTC), "6.99"),
        ],
    )

    assert run(settings, store, at(12, 20, 14), Recorder()).new == []


def test_day_granular_bills_never_make_a_spike_within_a_day(store: Store) -> None:
    # With min_history 3, three days and 9 windows would do. Each day of 10–19
    # Dec has an OpenAI bill of $2.00 (a provider date) and a FOCUS row of $6.00
    # for the day from 08:00Z (a whole day's period, no provider date). On the
    # 20th the row holds $50.00 from 08:00Z: cut into windows it would be one of
    # 06–09 far above $6.00. As a day it is a spike: $52.00 against $8.00.
    settings = make_settings("budget:\n  spikes: {min_history: 3}\n")

    def day_row(key: str, day: dt.date, amount: str) -> Charge:
        start = dt.datetime.combine(day, dt.time(8), dt.UTC)
        return Charge(
            record_key=key,
            provider="Cloud",
            service="Compute",
            billed_cost=D(amount),
            currency="USD",
            period_start=start,
            period_end=start + dt.timedelta(days=1),
        )

    days = [*DECEMBER_HISTORY, dt.date(2026, 12, 20)]
    write(store, "openai", [usd(f"o{d.day}", d, "2.00") for d in days])
    write(
        store,
        "cloud",
        [day_row(f"c{d.day}", d, "6.00") for d in DECEMBER_HISTORY]
        + [day_row("big", dt.date(2026, 12, 20), "50.00")],
    )

    result = run(settings, store, at(12, 20, 9), Recorder())
    situation = situation_of(store, settings, at(12, 20, 9))

    assert [(a.rule, a.scope, a.covered) for a in result.new] == [
        ("spike", "cloud", False)
    ]
    assert situation.windows == {}


@pytest.mark.parametrize(
    ("history", "charges", "now", "span"),
    [
        pytest.param(
            # Berlin goes from 02:00 to 03:00 on 29 March 2026 (01:00Z): the window
            # 00–03 lasts two hours, 23:00Z to 01:00Z. $3.00 at 01:50 (00:50Z) falls
            # in it, $1.00 above the usual; $25.00 at 03:10 (01:10Z) in 03–06, the
            # current window at 03:30 (01:30Z). Cut in UTC, both would be in 00–03.
            [dt.date(2026, 3, d) for d in range(19, 29)],
            [
                (dt.datetime(2026, 3, 29, 0, 50, tzinfo=dt.UTC), "3.00"),
                (dt.datetime(2026, 3, 29, 1, 10, tzinfo=dt.UTC), "25.00"),
            ],
            dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),
            (3, 6),
        ),
        pytest.param(
            # Berlin goes from 03:00 back to 02:00 on 25 October 2026 (01:00Z): the
            # window 00–03 lasts four hours, 22:00Z on the 24th to 02:00Z. $10.00 at
            # 00:30 (22:30Z) and $15.00 at the second 02:30 (01:30Z) are both in
            # it, the current window at 02:45 (01:45Z). Cut in UTC, they would be in
            # two windows of two days.
            [dt.date(2026, 10, d) for d in range(15, 25)],
            [
                (dt.datetime(2026, 10, 24, 22, 30, tzinfo=dt.UTC), "10.00"),
                (dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC), "15.00"),
            ],
            dt.datetime(2026, 10, 25, 1, 45, tzinfo=dt.UTC),
            (0, 3),
        ),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_windows_on_a_dst_day_follow_the_local_clock(
    store: Store,
    history: list[dt.date],
    charges: list[tuple[dt.datetime, str]],
    now: dt.datetime,
    span: tuple[int, int],
) -> None:
    # Ten days of $2.00 in the local windows 09–12, 12–15 and 15–18, then $25.00
    # in one window of the DST day: $23.00 above the median of $2.00.
    settings = make_settings("budget:\n  timezone: Europe/Berlin\n")
    zone = settings.budget.zone
    write(
        store,
        "claude_code",
        busy_days(history, ("2.00", "2.00", "2.00"), zone)
        + [timed(f"dst{i}", when, cost) for i, (when, cost) in enumerate(charges)],
    )

    result = run(settings, store, now, Recorder())

    day = now.astimezone(zone).date()
    within = [a for a in result.new if a.kind == "spike-hours"]
    assert [(a.period, a.amount, a.budget) for a in within] == [
        (f"{day}T{span[0]:02}", D(25), D(2))
    ]
    assert within[0].message.splitlines()[1] == (
        f"Spike: $25.00 between {span[0]:02}:00 and {span[1]:02}:00 today "
        "(vs. $2.00 usual for 3 hours)"
    )


def test_hours_zero_judges_whole_days_only(store: Store) -> None:
    # The data of the flat-history test: the window 12–15 would alert; without
    # windows the day's spike ($32.00 against $6.00) is the one delivered.
    settings = make_settings("budget:\n  spikes: {hours: 0}\n")
    write(
        store,
        "claude_code",
        [
            *busy_days(DECEMBER_HISTORY, ("2.00", "2.00", "2.00")),
            timed("a", dt.datetime(2026, 12, 20, 10, tzinfo=dt.UTC), "2.00"),
            timed("b", dt.datetime(2026, 12, 20, 13, 20, tzinfo=dt.UTC), "30.00"),
        ],
    )

    result = run(settings, store, at(12, 20, 14), Recorder())

    assert rules_of(result.new) == [("spike", "claude_code", False)]
    assert [r.condition for r in rule_rows(settings) if r.rule == "spike"] == [
        "a day at least $5.00 and 5 MADs above its usual level, after 7 days of history"
    ]


def test_too_few_active_windows_judge_no_window(store: Store) -> None:
    # Ten days with one $2.00 window each: 10 active windows, 21 needed. The
    # day ($32.00 against $2.00) still is a spike.
    settings = make_settings("")
    write(
        store,
        "claude_code",
        [
            timed(f"h{d.day}", dt.datetime.combine(d, dt.time(10), dt.UTC), "2.00")
            for d in DECEMBER_HISTORY
        ]
        + [timed("b", dt.datetime(2026, 12, 20, 13, 20, tzinfo=dt.UTC), "32.00")],
    )

    result = run(settings, store, at(12, 20, 14), Recorder())

    assert rules_of(result.new) == [("spike", "claude_code", False)]


# -- renewals --------------------------------------------------------------------------


RENEWALS = """
subscriptions:
  - {name: Domain, provider: Registrar, amount: 12.00, period: yearly,
     start: 2025-12-09}
  - {name: Copilot, provider: GitHub, amount: 10.00, start: 2026-01-05}
  - {name: Trial, provider: Vendor, amount: 5.00, start: 2026-11-01, ends: 2026-12-06}
"""


def test_renewals_and_endings_within_the_window_alert_once(store: Store) -> None:
    # On 3 Dec with 7 days: the domain renews on 9 Dec (in 6 days), the trial ends
    # on 6 Dec (in 3 days); Copilot's monthly renewal on 5 Jan is not announced.
    settings = make_settings(RENEWALS)
    send = Recorder()

    result = run(settings, store, at(12, 3), send)
    again = run(settings, store, at(12, 4), send)

    assert sorted((a.kind, a.scope, a.period) for a in result.new) == [
        ("ending", "Trial", "2026-12-06"),
        ("renewal", "Domain", "2026-12-09"),
    ]
    domain = next(a for a in result.new if a.scope == "Domain")
    assert domain.title == "QOINs: Domain Renews in 6 Days"
    assert domain.message.splitlines()[0] == (
        "Renewal: $12.00 (yearly) for Domain (Registrar) on 2026-12-09"
    )
    assert again.new == []


def test_monthly_renewals_are_announced_when_asked(store: Store) -> None:
    settings = make_settings(
        RENEWALS + "budget:\n  renewals: {days: 3, monthly: true}\n"
    )

    result = run(settings, store, at(1, 3, year=2027), Recorder())

    # 3 Jan 2027: Copilot renews on the 5th (in 2 days); the domain's next renewal
    # is December and the trial ended.
    assert [(a.scope, a.period, a.title) for a in result.new] == [
        ("Copilot", "2027-01-05", "QOINs: Copilot Renews in 2 Days")
    ]


# -- deliveries ------------------------------------------------------------------------


def test_a_failed_delivery_is_retried_on_the_next_refresh_and_never_blocks_others(
    store: Store, quiet_settings: Settings
) -> None:
    write(store, "openai", [usd("a", dt.date(2026, 12, 3), "100.00")])  # 90.9 %
    failing = Recorder(failing={"mail"})

    first = run(quiet_settings, store, at(12, 24, 9), failing)
    stored = {d.channel: d for d in store.alerts()[0].deliveries}
    fixed = Recorder()
    second = run(quiet_settings, store, at(12, 24, 10), fixed)
    third = run(quiet_settings, store, at(12, 24, 11), fixed)

    assert [(a.channel, a.error) for a in first.failures] == [
        ("mail", "mail: connection refused by 127.0.0.1:9")
    ]
    assert failing.titles("chat") == ["QOINs URGENT: 90% Budget Used"]
    assert stored["mail"].status == "failed" and stored["mail"].attempts == 1
    assert stored["chat"].status == "sent"
    assert second.new == []
    assert [(a.channel, a.error) for a in second.attempts] == [("mail", None)]
    assert fixed.titles("mail") == ["QOINs URGENT: 90% Budget Used"]
    assert third.attempts == []


def test_two_checks_at_once_send_an_alert_once(
    store: Store, quiet_settings: Settings
) -> None:
    write(store, "openai", [usd("a", dt.date(2026, 12, 3), "100.00")])  # 90.9 %
    sent: list[str] = []
    started = threading.Event()

    def slow(channel: str, notice: Notice, settings: Settings) -> None:
        # The second check starts while the first is delivering.
        started.set()
        time.sleep(0.5)
        sent.append(channel)

    def cron() -> None:
        run_ = check_alerts(
            quiet_settings, store, now=at(12, 24), front=("terminal",), send=slow
        )
        assert [a.rule for a in run_.new if not a.covered] == ["actual:90"]

    first = threading.Thread(target=cron)
    first.start()
    assert started.wait(10)
    other = Store(store.path)
    second = check_alerts(
        quiet_settings, other, now=at(12, 24), front=("terminal",), send=slow
    )
    first.join()

    assert second.new == [] and second.attempts == []
    assert sorted(sent) == ["chat", "mail"]


def test_a_failed_delivery_is_given_up_after_seven_days(
    store: Store, quiet_settings: Settings
) -> None:
    write(store, "openai", [usd("a", dt.date(2026, 12, 3), "100.00")])
    # Fired at 09:00 on 3 Dec: 08:00 on 10 Dec is within seven days, 10:00 is not.
    run(quiet_settings, store, at(12, 3, 9), Recorder(failing={"mail", "chat"}))
    within = run(quiet_settings, store, at(12, 10, 8), Recorder(failing={"mail"}))
    after = Recorder()
    late = run(quiet_settings, store, at(12, 10, 10), after)

    assert [(a.channel, a.error is None) for a in within.attempts] == [
        ("chat", True),
        ("mail", False),
    ]
    assert late.attempts == [] and after.sent == []
    (sent,) = [a for a in store.alerts() if not a.covered]
    mail = next(d for d in sent.deliveries if d.channel == "mail")
    assert (mail.status, mail.attempts) == ("failed", 2)


def test_toasts_wait_for_the_app_when_cron_raised_the_alert(store: Store) -> None:
    settings = make_settings(
        "budget:\n  monthly_limit: 100\n"
        "  alerts: [{threshold: 75, channels: [terminal, toast], projected: false}]\n"
    )
    write(store, "openai", [usd("a", dt.date(2026, 12, 3), "80.00")])

    cron = check_alerts(settings, store, now=at(12, 24), front=("terminal",), send=None)
    app = check_alerts(
        settings, store, now=at(12, 24, 10), front=("toast", "terminal"), send=None
    )
    app_again = check_alerts(
        settings, store, now=at(12, 24, 11), front=("toast", "terminal"), send=None
    )

    assert [a.rule for a in cron.shown] == ["actual:75"]
    assert app.new == [] and [a.rule for a in app.shown] == ["actual:75"]
    assert app_again.shown == []


# -- the rules in words ----------------------------------------------------------------


def test_rule_rows_list_every_rule_with_its_channels() -> None:
    settings = make_settings(
        "budget:\n  monthly_limit: 110\n  daily_limit: 8\n"
        "  alerts:\n    - {threshold: 90, channels: [terminal, desktop]}\n"
        "services:\n  openai:\n    budget_limit: 40\n"
        "    alerts: [{threshold: 50, projected: false}]\n"
    )

    rows = [(r.scope, r.rule, r.condition, r.channels) for r in rule_rows(settings)]

    assert rows == [
        (
            "total",
            "90% used",
            "the month's spend reaches 90% of $110.00",
            ("terminal", "desktop"),
        ),
        (
            "total",
            "projected 90%",
            "the month-end projection reaches 90% of $110.00 first",
            ("terminal", "desktop"),
        ),
        (
            "total",
            "daily 90%",
            "a day's spend reaches 90% of $8.00",
            ("terminal", "desktop"),
        ),
        (
            "openai",
            "50% used",
            "the month's spend reaches 50% of $40.00",
            # A rule that names no channels has the default ones.
            ("terminal", "toast"),
        ),
        (
            "each source",
            "spike",
            "a day, or 3 hours of logged usage, at least $5.00 and 5 MADs above its "
            "usual level, after 7 days of history",
            ("terminal", "toast"),
        ),
    ]


def test_an_unknown_channel_is_refused_naming_the_line() -> None:
    from qoins_tui.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        make_settings("budget:\n  alerts:\n    - {threshold: 75, channels: [pager]}\n")

    assert "budget.alerts[0].channels: unknown channel 'pager'" in str(error.value)
