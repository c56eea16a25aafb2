"""Month arithmetic and the month-end forecast (CASES.md C08 and C15), by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from qoins_tui.analysis import (
    Month,
    change,
    days_left,
    forecast,
    percent,
    runs_out,
)


def flat(
    month: Month, through: dt.date, amount: str = "10.00"
) -> dict[dt.date, Decimal]:
    """The same amount on every day from the month's first up to ``through``."""
    days = (through - month.first_day).days + 1
    return {month.first_day + dt.timedelta(i): Decimal(amount) for i in range(days)}


def test_c15a_partial_today_is_not_a_whole_day() -> None:
    june = Month(2025, 6)
    daily = flat(june, dt.date(2025, 6, 11))
    daily[dt.date(2025, 6, 12)] = Decimal("3.00")

    result = forecast(june, dt.date(2025, 6, 12), daily, daily)

    # 110 through yesterday + 10 × 19 days left (12th to 30th) = 300
    assert result.projected == Decimal("300.00")
    assert result.daily_rate == Decimal("10")
    assert result.basis == "month"
    assert sum(daily.values()) == Decimal("113.00")


def test_c15b_last_day_of_the_month() -> None:
    june = Month(2025, 6)
    daily = flat(june, dt.date(2025, 6, 29))
    daily[dt.date(2025, 6, 30)] = Decimal("4.00")

    result = forecast(june, dt.date(2025, 6, 30), daily, daily)

    # 290 + 10 × 1
    assert result.projected == Decimal("300.00")


def test_today_above_the_average_stands_for_today() -> None:
    june = Month(2025, 6)
    daily = flat(june, dt.date(2025, 6, 11))
    daily[dt.date(2025, 6, 12)] = Decimal("890.00")

    result = forecast(june, dt.date(2025, 6, 12), daily, daily)

    # 110 through yesterday + today's 890 + 10 × 18 days after today = 1180, never
    # the 300 that leaves today's spend out, below the 1000 already spent.
    assert result.projected == Decimal("1180.00")
    assert result.low is not None and result.low >= Decimal("1000.00")


def test_first_day_above_the_previous_rate_stands_for_today() -> None:
    june = Month(2025, 6)
    daily = {dt.date(2025, 6, 1): Decimal("50.00")}

    result = forecast(
        june, dt.date(2025, 6, 1), daily, daily, previous_rate=Decimal("9.00")
    )

    # 50 today + 9.00 × 29 days after it
    assert result.projected == Decimal("311.00")


def test_c15c_first_day_without_history_is_insufficient() -> None:
    june = Month(2025, 6)
    daily = {dt.date(2025, 6, 1): Decimal("2.00")}

    result = forecast(june, dt.date(2025, 6, 1), daily, daily)

    assert result.projected is None
    assert result.basis == "insufficient"


def test_c15c_first_day_uses_the_previous_months_rate() -> None:
    june = Month(2025, 6)
    daily = {dt.date(2025, 6, 1): Decimal("2.00")}

    result = forecast(
        june, dt.date(2025, 6, 1), daily, daily, previous_rate=Decimal("9.00")
    )

    # 9.00 × 30 days left, today included
    assert result.projected == Decimal("270.00")
    assert result.basis == "previous month"


def test_c15d_leap_february() -> None:
    february = Month(2024, 2)
    daily = flat(february, dt.date(2024, 2, 10))

    result = forecast(february, dt.date(2024, 2, 11), daily, daily)

    # 100 + 10 × 19 (11th to 29th)
    assert result.projected == Decimal("290.00")


def test_known_charges_are_scheduled_not_extrapolated() -> None:
    june = Month(2025, 6)
    usage = flat(june, dt.date(2025, 6, 9))
    everything = dict(usage)
    everything[dt.date(2025, 6, 1)] += Decimal("45.00")

    result = forecast(
        june,
        dt.date(2025, 6, 10),
        usage,
        everything,
        scheduled_rest=Decimal("12.00"),
    )

    # 90 usage + 45 plan through yesterday, 10 × 21 days left, 12 still to bill.
    assert result.projected == Decimal("357.00")


def test_past_and_future_months() -> None:
    may = Month(2025, 5)
    daily = flat(may, may.last_day, "2.00")

    past = forecast(may, dt.date(2025, 6, 3), daily, daily)
    future = forecast(Month(2025, 7), dt.date(2025, 6, 3), {}, {})

    assert (past.projected, past.basis) == (Decimal("62.00"), "complete")
    assert (future.projected, future.basis) == (None, "future")


def test_range_widens_with_noise_and_vanishes_without() -> None:
    june = Month(2025, 6)
    steady = flat(june, dt.date(2025, 6, 9))
    noisy = {d: Decimal(5 if d.day % 2 else 15) for d in steady}

    calm = forecast(june, dt.date(2025, 6, 10), steady, steady)
    rough = forecast(june, dt.date(2025, 6, 10), noisy, noisy)

    assert calm.low == calm.high == calm.projected
    assert rough.low is not None and rough.high is not None
    assert rough.projected is not None
    assert rough.low < rough.projected < rough.high


@pytest.mark.parametrize(
    ("today", "start", "end", "days"),
    [
        # C08: the exclusive end is the first day of the next month.
        (dt.date(2025, 12, 10), dt.date(2025, 11, 1), dt.date(2025, 12, 1), 30),
        (dt.date(2024, 3, 15), dt.date(2024, 2, 1), dt.date(2024, 3, 1), 29),
        (dt.date(2025, 3, 31), dt.date(2025, 2, 1), dt.date(2025, 3, 1), 28),
        (dt.date(2025, 1, 15), dt.date(2024, 12, 1), dt.date(2025, 1, 1), 31),
    ],
)
def test_c08_last_month(
    today: dt.date, start: dt.date, end: dt.date, days: int
) -> None:
    last = Month.of(today).previous()

    assert (last.first_day, last.end, last.days) == (start, end, days)


def test_c08_last_month_keeps_its_last_day() -> None:
    november = Month(2025, 11)
    daily = flat(november, november.last_day)
    daily[dt.date(2025, 11, 30)] = Decimal("25.00")

    result = forecast(november, dt.date(2025, 12, 10), daily, daily)

    # 29 × 10 + 25
    assert result.projected == Decimal("315.00")


def test_month_parsing_and_stepping() -> None:
    assert Month.parse("2026-12") == Month(2026, 12)
    assert Month(2026, 12).next() == Month(2027, 1)
    assert Month(2027, 1).previous() == Month(2026, 12)
    assert Month(2026, 12).label == "December 2026"
    assert str(Month(2026, 3)) == "2026-03"
    for bad in ("2026-13", "2026-00", "26-12", "December"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            Month.parse(bad)


def test_days_left_counts_today() -> None:
    june = Month(2025, 6)

    assert days_left(june, dt.date(2025, 6, 12)) == 19
    assert days_left(june, dt.date(2025, 6, 30)) == 1
    assert days_left(june, dt.date(2025, 7, 1)) == 0
    assert days_left(june, dt.date(2025, 5, 31)) == 30


def test_percent_is_not_capped_and_needs_a_budget() -> None:
    assert (
        percent(Decimal("95.94"), Decimal("110.00"))
        == Decimal("95.94") / Decimal("110.00") * 100
    )
    assert percent(Decimal("220"), Decimal("110")) == Decimal("200")
    assert percent(Decimal("5"), None) is None
    assert percent(Decimal("5"), Decimal("0")) is None


def test_change_against_last_month() -> None:
    # The seed's report: $78.40 then $95.94 is +$17.54, +22.37…%
    value = change(Decimal("95.94"), Decimal("78.40"))
    assert value is not None
    assert round(value, 2) == Decimal("22.37")
    assert change(Decimal("5"), None) is None


def test_runs_out_at_the_current_rate() -> None:
    june = Month(2025, 6)

    # $60 left at $10 a day from the 12th: reached on the 18th.
    assert runs_out(
        Decimal("170"), Decimal("110"), Decimal("10"), dt.date(2025, 6, 12), june
    ) == dt.date(2025, 6, 18)
    assert (
        runs_out(
            Decimal("1000"), Decimal("110"), Decimal("10"), dt.date(2025, 6, 12), june
        )
        is None
    )
    assert runs_out(
        Decimal("100"), Decimal("110"), Decimal("10"), dt.date(2025, 6, 12), june
    ) == dt.date(2025, 6, 12)
    # A budget far beyond any date at a tiny rate: not this month, and no overflow.
    assert (
        runs_out(
            Decimal("1000"),
            Decimal("0.0003"),
            Decimal("0.0001"),
            dt.date(2025, 6, 12),
            june,
        )
        is None
    )
