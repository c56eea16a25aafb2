"""The DuckDB store: schema version, another process's lock, idempotent writes,
exact money and the refresh log (DESIGN.md "Store", "Time and money").
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from collectors.base import Charge, RecordBatch
from qoins_tui.errors import StoreBusyError, StoreError
from qoins_tui.store import (
    SCHEMA_VERSION,
    Counts,
    MonthQuery,
    RefreshRecord,
    ServiceSpend,
    Store,
)

MARCH = MonthQuery(dt.date(2026, 3, 1), dt.date(2026, 4, 1), "UTC", "USD")


def charge(key: str, amount: str, day: int, service: str = "Amazon S3") -> Charge:
    return Charge(
        record_key=key,
        provider="AWS",
        service=service,
        billed_cost=Decimal(amount),
        currency="USD",
        charge_date=dt.date(2026, 3, day),
    )


# -- schema ---------------------------------------------------------------------


def test_a_new_file_gets_the_current_schema_version(store: Store) -> None:
    assert not store.path.exists()

    assert store.schema_version() == SCHEMA_VERSION

    con = duckdb.connect(str(store.path), read_only=True)
    try:
        rows = con.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ).fetchall()
    finally:
        con.close()
    assert rows == [(str(SCHEMA_VERSION),)]


def test_a_store_from_a_newer_qoins_is_refused(store: Store) -> None:
    store.schema_version()
    con = duckdb.connect(str(store.path))
    try:
        con.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'",
            [str(SCHEMA_VERSION + 1)],
        )
    finally:
        con.close()

    with pytest.raises(StoreError) as caught:
        store.is_empty()

    message = caught.value.message
    assert str(store.path) in message
    assert f"schema {SCHEMA_VERSION + 1}" in message
    assert "Upgrade QOINs" in message


# -- another process's lock -----------------------------------------------------


def hold_lock(path: Path, hold_s: float) -> subprocess.Popen[str]:
    """A process that opens the file for writing, says so, and keeps it ``hold_s``."""
    code = (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(path)!r})\n"
        "print('locked', flush=True)\n"
        f"time.sleep({hold_s})\n"
        "con.close()\n"
        "print('released', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.fixture
def existing(store: Store) -> Iterator[Store]:
    store.schema_version()
    yield store


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


def test_a_held_lock_fails_after_the_wait_naming_the_holder(
    existing: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    delays: list[float] = []
    real_sleep = time.sleep

    def recording_sleep(seconds: float) -> None:
        delays.append(seconds)
        real_sleep(seconds)

    holder = hold_lock(existing.path, 60)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(time, "sleep", recording_sleep)
            busy = Store(existing.path, wait_s=1.5)
            started = time.monotonic()
            with pytest.raises(StoreBusyError) as caught:
                busy.is_empty()
            waited = time.monotonic() - started
    finally:
        stop(holder)

    message = caught.value.message
    assert f"PID {holder.pid}" in message
    assert str(existing.path) in message
    assert "waited 1.5 s" in message
    assert 0.5 <= waited < 5
    assert len(delays) >= 3
    assert delays == sorted(delays)
    assert delays[-1] > delays[0]


def test_a_lock_released_during_the_wait_lets_the_open_succeed(
    existing: Store,
) -> None:
    holder = hold_lock(existing.path, 1.0)
    try:
        started = time.monotonic()
        assert Store(existing.path, wait_s=15).is_empty()
        waited = time.monotonic() - started
        assert holder.poll() is None
    finally:
        stop(holder)

    assert waited >= 0.5


# -- idempotent record writes ---------------------------------------------------


def test_writing_the_same_batch_twice_changes_nothing(store: Store) -> None:
    batch = RecordBatch(
        [charge("a", "1.50", 1), charge("b", "2.25", 2), charge("c", "0.75", 2)]
    )

    first = store.write_records("aws", batch)
    second = store.write_records("aws", batch)

    assert (first.new, first.changed) == (3, 0)
    assert (second.read, second.new, second.changed) == (3, 0, 0)
    # 1.50 on the 1st; 2.25 + 0.75 = 3.00 on the 2nd; 4.50 in all.
    assert store.daily_spend(MARCH) == {
        dt.date(2026, 3, 1): Decimal("1.50"),
        dt.date(2026, 3, 2): Decimal("3.00"),
    }
    assert [s.spent for s in store.spend_by_service(MARCH)] == [Decimal("4.50")]


def test_a_changed_charge_counts_as_changed_and_replaces_the_old(
    store: Store,
) -> None:
    store.write_records("aws", RecordBatch([charge("a", "1.50", 1)]))

    counts = store.write_records(
        "aws", RecordBatch([charge("a", "1.75", 1), charge("b", "2.00", 3)])
    )

    assert (counts.new, counts.changed) == (1, 1)
    assert store.daily_spend(MARCH) == {
        dt.date(2026, 3, 1): Decimal("1.75"),
        dt.date(2026, 3, 3): Decimal("2.00"),
    }


def test_without_replaces_all_unlisted_charges_stay(store: Store) -> None:
    store.write_records("aws", RecordBatch([charge("a", "1.50", 1)]))

    store.write_records("aws", RecordBatch([charge("b", "2.00", 3)]))

    assert sum(store.daily_spend(MARCH).values()) == Decimal("3.50")


def test_replaces_all_removes_charges_no_longer_yielded(store: Store) -> None:
    store.write_records(
        "aws", RecordBatch([charge("a", "1.50", 1), charge("b", "2.00", 3)])
    )
    store.write_records("other", RecordBatch([charge("a", "9.00", 1)]))

    counts = store.write_records(
        "aws", RecordBatch([charge("b", "2.00", 3)], replaces_all=True)
    )

    assert (counts.new, counts.changed) == (0, 0)
    assert store.daily_spend(MARCH, exclude_sources=["other"]) == {
        dt.date(2026, 3, 3): Decimal("2.00")
    }
    assert store.daily_spend(MARCH, exclude_sources=["aws"]) == {
        dt.date(2026, 3, 1): Decimal("9.00")
    }


def test_a_key_repeated_in_one_batch_is_counted_once(store: Store) -> None:
    counts = store.write_records(
        "aws", RecordBatch([charge("a", "1.50", 1), charge("a", "1.50", 1)])
    )

    assert (counts.counted, counts.duplicate, counts.new) == (1, 1, 1)
    assert store.daily_spend(MARCH) == {dt.date(2026, 3, 1): Decimal("1.50")}


# -- money ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount", ["0.000000800000", "123456789.123456789012", "-4.000000000001"]
)
def test_money_round_trips_as_an_exact_decimal_with_12_places(
    store: Store, amount: str
) -> None:
    store.write_records("aws", RecordBatch([charge("a", amount, 5)]))

    stored = store.daily_spend(MARCH)[dt.date(2026, 3, 5)]

    assert isinstance(stored, Decimal)
    assert stored == Decimal(amount)
    assert stored.as_tuple().exponent == -12


def test_tiny_amounts_add_up_exactly(store: Store) -> None:
    # Ten charges of 0.1 and one of 0.000000000001: 1.000000000001, which a
    # DOUBLE column would not give back.
    charges = [charge(f"k{i}", "0.1", 7) for i in range(10)]
    charges.append(charge("tiny", "0.000000000001", 7))
    store.write_records("aws", RecordBatch(charges))

    assert store.spend_by_service(MARCH) == [
        ServiceSpend("aws", "AWS", "Amazon S3", Decimal("1.000000000001"), Decimal(0))
    ]


# -- the refresh log ------------------------------------------------------------


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, 10, hour, minute, tzinfo=dt.UTC)


def test_the_refresh_log_keeps_counts_errors_and_the_last_success(
    store: Store,
) -> None:
    store.record_refresh(
        RefreshRecord(
            "focus_aws",
            "focus",
            at(8),
            at(8, 5),
            "ok",
            Counts(read=120, counted=118, new=100, changed=18, duplicate=2),
            None,
        )
    )
    store.record_refresh(
        RefreshRecord(
            "focus_aws",
            "focus",
            at(9),
            at(9, 1),
            "failed",
            Counts(problems=["/exports/a.csv: is not a FOCUS export"]),
            "/exports/a.csv: is not a FOCUS export",
        )
    )
    store.record_refresh(
        RefreshRecord(
            "claude_code",
            "claude_code",
            at(7),
            at(7, 2),
            "ok",
            Counts(read=50, new=40, malformed=3, unpriced=5, notes=["x: line 4"]),
            None,
        )
    )

    latest = store.last_refreshes()

    assert set(latest) == {"focus_aws", "claude_code"}
    aws = latest["focus_aws"]
    assert (aws.status, aws.started_at, aws.finished_at) == ("failed", at(9), at(9, 1))
    assert aws.error == "/exports/a.csv: is not a FOCUS export"
    assert aws.counts.problems == ["/exports/a.csv: is not a FOCUS export"]
    assert aws.last_ok == at(8, 5)
    claude = latest["claude_code"]
    assert claude.status == "ok"
    assert claude.error is None
    assert (claude.counts.read, claude.counts.new) == (50, 40)
    assert (claude.counts.malformed, claude.counts.unpriced) == (3, 5)
    assert claude.counts.notes == ["x: line 4"]
    assert claude.last_ok == at(7, 2)


def test_a_source_that_never_succeeded_has_no_last_ok(store: Store) -> None:
    store.record_refresh(
        RefreshRecord("aws", "aws", at(8), at(8, 1), "failed", Counts(), "no key")
    )

    record = store.last_refreshes()["aws"]

    assert (record.status, record.error, record.last_ok) == ("failed", "no key", None)


def test_a_session_shares_one_connection_and_releases_the_file(store: Store) -> None:
    store.schema_version()

    with store.session():
        with store.connect() as first, store.connect() as second:
            assert first is second
        assert store.schema_version() == SCHEMA_VERSION

    # Closed at the end: another process can now take the write lock.
    probe = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(store.path)!r})"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    with store.connect() as fresh, store.connect() as other:
        assert fresh is not other
