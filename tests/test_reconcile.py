"""Bills and estimates of the same days (DESIGN.md "The charge record"): the bill
counts, the estimate is shown beside it; and the record path's moving window and
stored state that API sources re-read recent days with.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb

from collectors.base import Charge, RecordBatch
from qoins_tui.analysis import Month
from qoins_tui.services import title_content
from qoins_tui.status import status_object
from qoins_tui.store import _MIGRATIONS, SCHEMA_VERSION, MonthQuery, Store
from qoins_tui.summary import build_summary
from tests.conftest import make_settings

NOVEMBER = MonthQuery(dt.date(2026, 11, 1), dt.date(2026, 12, 1), "UTC", "USD")


def bill(day: int, amount: str, provider: str = "Anthropic") -> Charge:
    return Charge(
        record_key=f"cost:{day}:{provider}",
        provider=provider,
        service="Claude API",
        billed_cost=Decimal(amount),
        currency="USD",
        charge_date=dt.date(2026, 11, day),
    )


def estimate(key: str, at: dt.datetime, amount: str, billing: str = "api") -> Charge:
    return Charge(
        record_key=key,
        provider="Anthropic",
        service="claude-sonnet-4-5",
        billed_cost=Decimal(amount),
        currency="USD",
        period_start=at,
        period_end=at,
        model="claude-sonnet-4-5",
        cost_basis="estimated",
        billing=billing,
    )


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


def seed(store: Store) -> None:
    """A bill for 2 November only; log estimates on the 2nd and the 3rd."""
    store.write_records("anthropic", RecordBatch([bill(2, "10.00")]))
    store.write_records(
        "claude_code",
        RecordBatch(
            [
                estimate("a", utc(2, 10), "1.25"),
                estimate("b", utc(2, 23, 30), "1.75"),
                estimate("c", utc(3, 10), "2.00"),
            ]
        ),
    )


def test_the_bill_replaces_the_estimates_of_its_day_and_estimates_fill_the_rest(
    store: Store,
) -> None:
    seed(store)

    by_source = {s.source: s.spent for s in store.spend_by_service(NOVEMBER)}

    # The 2nd: the bill's $10.00 counts, not the estimates' 1.25 + 1.75 = $3.00.
    # The 3rd has no bill yet: its estimate of $2.00 counts.
    assert by_source == {"anthropic": Decimal("10.00"), "claude_code": Decimal("2.00")}
    assert store.daily_spend(NOVEMBER) == {
        dt.date(2026, 11, 2): Decimal("10.00"),
        dt.date(2026, 11, 3): Decimal("2.00"),
    }


def test_reconciliation_shows_bill_estimate_and_difference(store: Store) -> None:
    seed(store)

    [row] = store.reconciliation(NOVEMBER)

    assert (row.provider, row.source, row.days) == ("Anthropic", "claude_code", 1)
    assert row.billed == Decimal("10.00")
    assert row.estimated == Decimal("3.00")
    assert row.difference == Decimal("-7.00")


def test_estimates_are_cut_into_utc_days_whatever_the_zone(store: Store) -> None:
    seed(store)
    # In Tokyo (UTC+9) 23:30 UTC on the 2nd is 08:30 on the 3rd, but the bill is
    # dated in UTC, so that estimate is still the 2nd's and the bill replaces it.
    tokyo = MonthQuery(NOVEMBER.start, NOVEMBER.end, "Asia/Tokyo", "USD")

    daily = store.daily_spend(tokyo)

    # Local 3rd: only the 10:00 UTC estimate of the 3rd (19:00 in Tokyo) counts.
    assert daily == {
        dt.date(2026, 11, 2): Decimal("10.00"),
        dt.date(2026, 11, 3): Decimal("2.00"),
    }
    [row] = store.reconciliation(tokyo)
    assert row.estimated == Decimal("3.00")


def test_a_subscription_of_the_same_provider_does_not_replace_usage_estimates(
    store: Store,
) -> None:
    plan = Charge(
        record_key="sub:max",
        provider="Anthropic",
        service="Claude Max",
        billed_cost=Decimal("100"),
        currency="USD",
        charge_date=dt.date(2026, 11, 3),
        charge_category="Purchase",
    )
    store.write_records("subscriptions", RecordBatch([plan]))
    store.write_records("claude_code", RecordBatch([estimate("c", utc(3, 10), "2.00")]))

    spent = sum((s.spent for s in store.spend_by_service(NOVEMBER)), Decimal(0))

    assert spent == Decimal("102.00")
    assert store.reconciliation(NOVEMBER) == []


def test_another_providers_bill_leaves_the_estimates_alone(store: Store) -> None:
    store.write_records("openai", RecordBatch([bill(2, "4.00", provider="OpenAI")]))
    store.write_records("claude_code", RecordBatch([estimate("a", utc(2, 10), "1.25")]))

    spent = sum((s.spent for s in store.spend_by_service(NOVEMBER)), Decimal(0))

    assert spent == Decimal("5.25")


def test_plan_usage_is_neither_spend_nor_compared_with_the_bill(store: Store) -> None:
    store.write_records("anthropic", RecordBatch([bill(2, "10.00")]))
    store.write_records(
        "claude_code",
        RecordBatch([estimate("a", utc(2, 10), "1.25", billing="plan")]),
    )

    assert store.reconciliation(NOVEMBER) == []
    assert store.plan_value(NOVEMBER) == {"claude_code": Decimal("1.25")}


def test_status_json_lists_the_reconciliation(store: Store) -> None:
    seed(store)
    settings = make_settings("budget:\n  monthly_limit: 100\n")
    now = dt.datetime(2026, 11, 4, 12, tzinfo=dt.UTC)

    data = status_object(build_summary(store, settings, Month(2026, 11), now))

    assert data["spent"] == Decimal("12.00")
    assert data["estimated"] == Decimal("2.00")
    assert data["reconciliation"] == [
        {
            "provider": "Anthropic",
            "source": "claude_code",
            "days": 1,
            "billed": Decimal("10.00"),
            "estimated": Decimal("3.00"),
            "difference": Decimal("-7.00"),
        }
    ]


# -- the moving window of record sources ---------------------------------------------


def test_a_window_replaces_recent_days_and_keeps_closed_ones(store: Store) -> None:
    store.write_records(
        "anthropic",
        RecordBatch([bill(1, "1"), bill(2, "2"), bill(3, "3"), bill(4, "4")]),
    )
    # The re-read from the 3rd: the 3rd changed, the 4th's line is gone.
    counts = store.write_records(
        "anthropic",
        RecordBatch([bill(3, "3.5")], replaces_since=dt.date(2026, 11, 3)),
    )

    daily = store.daily_spend(NOVEMBER)

    assert daily == {
        dt.date(2026, 11, 1): Decimal("1"),
        dt.date(2026, 11, 2): Decimal("2"),
        dt.date(2026, 11, 3): Decimal("3.5"),
    }
    assert (counts.new, counts.changed) == (0, 1)


def test_state_is_kept_when_the_batch_lands(store: Store) -> None:
    assert store.source_state("openai") == {}

    store.write_records(
        "openai", RecordBatch([], state={"complete_through": "2026-11-04"})
    )
    store.write_records(
        "openai", RecordBatch([], state={"complete_through": "2026-11-05"})
    )

    assert store.source_state("openai") == {"complete_through": "2026-11-05"}
    assert store.source_state("anthropic") == {}


def test_a_schema_1_store_migrates_forward_and_keeps_its_charges(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    for statement in _MIGRATIONS[1]:
        con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute(
        "INSERT INTO charges (source, record_key, charge_date, billed_cost, "
        "currency, cost_basis, charge_category) "
        "VALUES ('aws', 'k', DATE '2026-11-02', 7.5, 'USD', 'billed', 'Usage')"
    )
    con.close()

    store = Store(path)

    assert store.schema_version() == SCHEMA_VERSION
    assert store.source_state("aws") == {}
    assert store.daily_spend(NOVEMBER) == {dt.date(2026, 11, 2): Decimal("7.5")}


def test_the_services_tab_shows_bill_and_estimate_on_both_sources(
    store: Store,
) -> None:
    seed(store)
    settings = make_settings()
    now = dt.datetime(2026, 11, 4, 12, tzinfo=dt.UTC)
    summary = build_summary(store, settings, Month(2026, 11), now)
    rows = {row.name: row for row in summary.sources}

    for name in ("anthropic", "claude_code"):
        text = title_content(rows[name], summary, dt.UTC).plain

        assert (
            "Anthropic bill $10.00 · claude_code estimate $3.00 (−$7.00) on 1 day"
            " · the bill counts"
        ) in text, name
