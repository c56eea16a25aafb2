"""Subscriptions from the config: billing dates, seats, ends, the zone's today, removal.

DESIGN.md: amount × seats is charged in full on every billing date, which falls on
``start``'s day of the month (the last day in shorter months); billing dates are
calendar dates, charged up to today in ``budget.timezone``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from collectors.subscriptions import Subscription, billing_dates
from qoins_tui.refresh import run_refresh
from qoins_tui.store import MonthQuery, Store
from tests.conftest import make_settings

D = dt.date


def sub(
    start: dt.date,
    *,
    period: str = "monthly",
    amount: str = "10.00",
    seats: int = 1,
    ends: dt.date | None = None,
) -> Subscription:
    return Subscription(
        name="tool",
        provider="Vendor",
        amount=Decimal(amount),
        currency="USD",
        period=period,
        start=start,
        seats=seats,
        ends=ends,
    )


def window(zone: str = "UTC") -> MonthQuery:
    return MonthQuery(D(2020, 1, 1), D(2030, 1, 1), zone, "USD")


def stored_days(store: Store, zone: str = "UTC") -> dict[dt.date, Decimal]:
    return store.daily_spend(window(zone))


# -- billing dates by hand ------------------------------------------------------


def test_monthly_from_the_31st_falls_on_each_months_last_day() -> None:
    tool = sub(D(2026, 1, 31))

    assert list(billing_dates(tool, D(2026, 1, 1), D(2026, 4, 30))) == [
        D(2026, 1, 31),
        D(2026, 2, 28),
        D(2026, 3, 31),
        D(2026, 4, 30),
    ]
    assert list(billing_dates(tool, D(2028, 2, 1), D(2028, 3, 31))) == [
        D(2028, 2, 29),
        D(2028, 3, 31),
    ]


def test_yearly_from_a_leap_day_falls_on_the_28th_in_other_years() -> None:
    plan = sub(D(2024, 2, 29), period="yearly")

    assert list(billing_dates(plan, D(2024, 1, 1), D(2028, 12, 31))) == [
        D(2024, 2, 29),
        D(2025, 2, 28),
        D(2026, 2, 28),
        D(2027, 2, 28),
        D(2028, 2, 29),
    ]


def test_billing_dates_keep_to_the_window() -> None:
    tool = sub(D(2026, 1, 15))

    assert list(billing_dates(tool, D(2026, 2, 16), D(2026, 4, 15))) == [
        D(2026, 3, 15),
        D(2026, 4, 15),
    ]
    assert list(billing_dates(tool, D(2025, 1, 1), D(2026, 1, 14))) == []


def test_ends_stops_the_billing_dates() -> None:
    cancelled = sub(D(2026, 1, 15), ends=D(2026, 3, 1))

    assert list(billing_dates(cancelled, D(2026, 1, 1), D(2026, 12, 31))) == [
        D(2026, 1, 15),
        D(2026, 2, 15),
    ]


# -- refreshes ------------------------------------------------------------------


def test_seats_multiply_the_amount_on_each_date(store: Store) -> None:
    settings = make_settings(
        "subscriptions:\n"
        "  - name: copilot\n    provider: GitHub\n    amount: 15.00\n"
        "    seats: 3\n    start: 2026-01-05\n"
    )

    run_refresh(settings, store, now=dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC))

    # 3 seats × 15.00 = 45.00 on Jan 5, Feb 5 and Mar 5.
    assert stored_days(store) == {
        D(2026, 1, 5): Decimal("45.00"),
        D(2026, 2, 5): Decimal("45.00"),
        D(2026, 3, 5): Decimal("45.00"),
    }
    [service] = store.spend_by_service(window())
    assert (service.source, service.provider, service.service) == (
        "subscriptions",
        "GitHub",
        "copilot",
    )
    assert service.spent == Decimal("135.00")


def test_ends_stops_the_charges_in_the_store(store: Store) -> None:
    settings = make_settings(
        "subscriptions:\n"
        "  - name: old-ci\n    amount: 8.50\n    start: 2026-01-15\n"
        "    ends: 2026-03-01\n"
    )

    run_refresh(settings, store, now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))

    assert stored_days(store) == {
        D(2026, 1, 15): Decimal("8.50"),
        D(2026, 2, 15): Decimal("8.50"),
    }


LA_CONFIG = """\
budget:
  timezone: America/Los_Angeles
subscriptions:
  - name: tool
    amount: 10.00
    start: 2026-01-31
"""


def test_todays_billing_date_waits_for_the_local_day(store: Store) -> None:
    # 2026-03-31 00:30 UTC is 2026-03-30 17:30 PDT (UTC-7 since March 8), so in
    # Los Angeles the 31st has not begun: Jan 31 and Feb 28 are due, Mar 31 not.
    settings = make_settings(LA_CONFIG)
    just_after_utc_midnight = dt.datetime(2026, 3, 31, 0, 30, tzinfo=dt.UTC)

    [result] = run_refresh(settings, store, now=just_after_utc_midnight)

    assert (result.source, result.ok, result.counts.new) == ("subscriptions", True, 2)
    assert stored_days(store, "America/Los_Angeles") == {
        D(2026, 1, 31): Decimal("10.00"),
        D(2026, 2, 28): Decimal("10.00"),
    }


def test_the_billing_date_is_charged_once_the_local_day_begins(
    store: Store,
) -> None:
    # 2026-03-31 07:30 UTC is 00:30 PDT on the 31st: now the 31st is due too.
    settings = make_settings(LA_CONFIG)

    run_refresh(settings, store, now=dt.datetime(2026, 3, 31, 0, 30, tzinfo=dt.UTC))
    [result] = run_refresh(
        settings, store, now=dt.datetime(2026, 3, 31, 7, 30, tzinfo=dt.UTC)
    )

    assert (result.counts.new, result.counts.changed) == (1, 0)
    assert stored_days(store, "America/Los_Angeles") == {
        D(2026, 1, 31): Decimal("10.00"),
        D(2026, 2, 28): Decimal("10.00"),
        D(2026, 3, 31): Decimal("10.00"),
    }


def test_in_utc_the_same_instant_is_already_the_31st(store: Store) -> None:
    settings = make_settings(LA_CONFIG.replace("America/Los_Angeles", "UTC"))

    run_refresh(settings, store, now=dt.datetime(2026, 3, 31, 0, 30, tzinfo=dt.UTC))

    assert sorted(stored_days(store)) == [
        D(2026, 1, 31),
        D(2026, 2, 28),
        D(2026, 3, 31),
    ]


TWO = """\
subscriptions:
  - name: editor
    amount: 20.00
    start: 2026-01-10
  - name: domain
    amount: 12.00
    period: yearly
    start: 2026-02-01
"""
ONE = """\
subscriptions:
  - name: editor
    amount: 20.00
    start: 2026-01-10
"""
NOW = dt.datetime(2026, 3, 15, tzinfo=dt.UTC)


def spent_by_service(store: Store) -> dict[str, Decimal]:
    return {s.service: s.spent for s in store.spend_by_service(window())}


def test_refreshing_again_changes_nothing(store: Store) -> None:
    settings = make_settings(TWO)

    [first] = run_refresh(settings, store, now=NOW)
    [second] = run_refresh(settings, store, now=NOW)

    # editor: Jan 10, Feb 10, Mar 10; domain: Feb 1.
    assert (first.counts.new, first.counts.changed) == (4, 0)
    assert (second.counts.new, second.counts.changed) == (0, 0)
    assert spent_by_service(store) == {
        "editor": Decimal("60.00"),
        "domain": Decimal("12.00"),
    }


def test_a_subscription_removed_from_the_config_takes_its_charges(
    store: Store,
) -> None:
    run_refresh(make_settings(TWO), store, now=NOW)

    run_refresh(make_settings(ONE), store, now=NOW)

    assert spent_by_service(store) == {"editor": Decimal("60.00")}
    assert stored_days(store) == {
        D(2026, 1, 10): Decimal("20.00"),
        D(2026, 2, 10): Decimal("20.00"),
        D(2026, 3, 10): Decimal("20.00"),
    }


def test_removing_the_last_subscription_empties_the_source(store: Store) -> None:
    run_refresh(make_settings(TWO), store, now=NOW)

    results = run_refresh(make_settings("subscriptions: []\n"), store, now=NOW)

    assert [(r.source, r.ok) for r in results] == [("subscriptions", True)]
    assert store.spend_by_service(window()) == []
    assert store.last_refreshes()["subscriptions"].status == "ok"


def test_a_config_without_the_section_keeps_the_history(store: Store) -> None:
    """A cron job run where no config is found must not erase what was billed."""
    run_refresh(make_settings(TWO), store, now=NOW)
    before = store.spend_by_service(window())

    results = run_refresh(make_settings(""), store, now=NOW)

    assert results == []
    assert before
    assert store.spend_by_service(window()) == before
