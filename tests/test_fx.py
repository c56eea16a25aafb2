"""Exchange rates: ECB reference rates stored with their day, fixed rates that win,
conversion on each charge's own day (DESIGN.md "Time and money", CASES.md C14).

The ECB files in ``tests/data/ecb/`` are cuts of the ECB's own files, in their exact
layout. The ECB's euro foreign exchange reference rates are free to reuse with the
source acknowledged:
https://www.ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/html/index.en.html
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import io
import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from collectors.base import Charge, RecordBatch
from qoins_tui.cli import main
from qoins_tui.fx import (
    ECB,
    URL_VARIABLE,
    Rate,
    RatesResult,
    parse_history_zip,
    parse_xml,
    published_through,
    uncovered_since,
)
from qoins_tui.refresh import run_refresh
from qoins_tui.store import MonthQuery, Store
from tests.conftest import make_settings

DATA = Path(__file__).parent / "data" / "ecb"
ECB_FOLDER = "https://www.ecb.europa.eu/stats/eurofxref"
FETCHED = dt.datetime(2025, 6, 9, 15, tzinfo=dt.UTC)

JUNE_USD = MonthQuery(dt.date(2025, 6, 1), dt.date(2025, 7, 1), "UTC", "USD")
APRIL_EUR = MonthQuery(dt.date(2025, 4, 1), dt.date(2025, 5, 1), "UTC", "EUR")
APRIL_2019_EUR = MonthQuery(dt.date(2019, 4, 1), dt.date(2019, 5, 1), "UTC", "EUR")


def bill(key: str, currency: str, amount: str, day: dt.date) -> Charge:
    return Charge(
        record_key=key,
        provider="Vendor",
        service=key,
        billed_cost=Decimal(amount),
        currency=currency,
        charge_date=day,
    )


def seed(store: Store, *charges: Charge) -> None:
    store.write_records("invoices", RecordBatch(list(charges)))


def rate(day: dt.date, base: str, quote: str, value: str) -> Rate:
    return Rate(day, base, quote, Decimal(value))


def spent(store: Store, q: MonthQuery) -> Decimal:
    return sum((s.spent for s in store.spend_by_service(q)), Decimal(0))


# -- C14: each row at its own day's rate, through one intermediate currency ------------

JUNE_3 = dt.date(2025, 6, 3)
JUNE_5 = dt.date(2025, 6, 5)
USD_EUR = rate(JUNE_3, "USD", "EUR", "0.92")
JPY_USD = rate(JUNE_5, "JPY", "USD", "0.0067")
EUR_BUDGET = "budget:\n  monthly_limit: 100.00\n  currency: EUR\n  timezone: UTC\n"


def c14_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rates: list[Rate]
) -> tuple[dict[str, Any], str]:
    """``qoins status --json`` and the box for June 2025 of C14's store."""
    db = tmp_path / "store.duckdb"
    store = Store(db)
    seed(
        store,
        bill("usd-invoice", "USD", "50.00", JUNE_3),
        bill("jpy-invoice", "JPY", "3000", JUNE_5),
    )
    store.save_rates(rates, fetched_at=FETCHED)
    config = tmp_path / "config.yml"
    config.write_text(EUR_BUDGET)
    args = ["--config", str(config), "--db", str(db), "status", "--month", "2025-06"]
    assert main([*args, "--json"]) == 0
    status = json.loads(capsys.readouterr().out, parse_float=Decimal)
    assert main(args) == 0
    return status, capsys.readouterr().out


def test_c14_converts_each_row_at_its_days_rate_through_usd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, box = c14_status(tmp_path, capsys, [USD_EUR, JPY_USD])

    # $50.00 × 0.92 = €46.00 (June 3's USD→EUR).
    # ¥3,000 × 0.0067 = $20.10 (June 5's JPY→USD), × 0.92 = €18.492 (the newest
    # USD→EUR on or before June 5 is June 3's). No direct JPY→EUR rate exists.
    # Total €46.00 + €18.492 = €64.492, unrounded; 64.492 / 100 × 100 = 64.492 %.
    assert status["currency"] == "EUR"
    assert status["spent"] == Decimal("64.492")
    assert status["percent"] == Decimal("64.492")
    assert status["remaining"] == Decimal("35.508")
    assert status["unconverted"] == []
    # JPY's rate is made of June 5's and June 3's: its oldest day is June 3.
    assert status["rates"] == {
        "origin": "ecb",
        "from": "2025-06-03",
        "to": "2025-06-03",
    }
    assert "Budget: €64.49 / €100.00 (64%)" in box
    assert "Converted at ECB rates of 2025-06-03" in box


def test_c14_without_a_path_leaves_the_yen_unconverted_never_1_to_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, box = c14_status(tmp_path, capsys, [USD_EUR])

    # Only $50.00 × 0.92 = €46.00 counts; ¥3,000 has no rate (not €3,000).
    assert status["spent"] == Decimal("46.00")
    assert status["percent"] == Decimal("46")
    assert status["unconverted"] == [{"currency": "JPY", "amount": Decimal("3000")}]
    assert "⚠ Not converted: ¥3,000 (no rate)" in box


# -- which day's rate ------------------------------------------------------------------


def test_a_weekend_charge_takes_fridays_rate_never_mondays(store: Store) -> None:
    # Saturday 7 June 2025: Friday the 6th's 1 EUR = 1.25 USD, not Monday's 2.00.
    seed(store, bill("saturday", "EUR", "100.00", dt.date(2025, 6, 7)))
    store.save_rates(
        [
            rate(dt.date(2025, 6, 5), "EUR", "USD", "1.10"),
            rate(dt.date(2025, 6, 6), "EUR", "USD", "1.25"),
            rate(dt.date(2025, 6, 9), "EUR", "USD", "2.00"),
        ],
        fetched_at=FETCHED,
    )

    # €100.00 × 1.25 = $125.00.
    assert spent(store, JUNE_USD) == Decimal("125.00")
    assert store.rate_days(JUNE_USD) == (dt.date(2025, 6, 6), dt.date(2025, 6, 6))


def test_a_charge_before_every_stored_rate_stays_unconverted(store: Store) -> None:
    # June 2 comes before the first stored EUR rate (June 3): no rate, never 1:1.
    seed(
        store,
        bill("early", "EUR", "10.00", dt.date(2025, 6, 2)),
        bill("later", "EUR", "20.00", JUNE_3),
    )
    store.save_rates([rate(JUNE_3, "EUR", "USD", "1.10")], fetched_at=FETCHED)

    # Only €20.00 × 1.10 = $22.00 counts; €10.00 is listed as unconverted.
    assert spent(store, JUNE_USD) == Decimal("22.00")
    assert store.unconverted(JUNE_USD) == [("EUR", Decimal("10.00"))]


def test_a_fixed_rate_from_the_config_wins_over_the_ecb_rate(store: Store) -> None:
    seed(store, bill("eur", "EUR", "100.00", JUNE_3))
    store.save_rates([rate(JUNE_3, "EUR", "USD", "1.25")], fetched_at=FETCHED)
    fixed = MonthQuery(
        JUNE_USD.start, JUNE_USD.end, "UTC", "USD", {"EUR": Decimal("1.08")}
    )

    # €100.00 × 1.08 (budget.rates) = $108.00, not × 1.25 = $125.00.
    assert spent(store, fixed) == Decimal("108.00")
    # No ECB rate was used, so there is no rates' date to show.
    assert store.rate_days(fixed) is None


def test_two_other_currencies_cross_through_the_euro(store: Store) -> None:
    # A JPY budget and a USD charge: USD→JPY = JPY per EUR ÷ USD per EUR
    # = 162.50 ÷ 1.25 = 130, so $50.00 is ¥6,500.
    seed(store, bill("usd", "USD", "50.00", dt.date(2025, 6, 6)))
    store.save_rates(
        [
            rate(dt.date(2025, 6, 6), "EUR", "USD", "1.25"),
            rate(dt.date(2025, 6, 6), "EUR", "JPY", "162.50"),
        ],
        fetched_at=FETCHED,
    )
    yen = MonthQuery(JUNE_USD.start, JUNE_USD.end, "UTC", "JPY")

    assert spent(store, yen) == Decimal("6500")


def test_a_month_the_stored_rates_do_not_reach_still_sums_right(store: Store) -> None:
    # The only rate and foreign charge are of 2019; December 2026's figures must
    # not be disturbed by a conversion table that has nothing for them.
    seed(
        store,
        bill("eur-2019", "EUR", "10.00", dt.date(2019, 1, 2)),
        bill("usd-december", "USD", "7.50", dt.date(2026, 12, 21)),
        Charge(
            record_key="qwen",
            provider="Anthropic",
            service="qwen3-coder",
            billed_cost=None,
            currency="USD",
            charge_date=dt.date(2026, 12, 22),
            model="qwen3-coder",
            input_tokens=1_000_000,
            output_tokens=200_000,
            cost_basis="unpriced",
        ),
    )
    store.save_rates(
        [rate(dt.date(2019, 1, 2), "EUR", "USD", "1.10")], fetched_at=FETCHED
    )
    december = MonthQuery(dt.date(2026, 12, 1), dt.date(2027, 1, 1), "UTC", "USD")

    # 1,000,000 input + 200,000 output tokens without a price; $7.50 billed.
    assert store.unpriced(december) == [("Anthropic", "qwen3-coder", 1_200_000)]
    assert spent(store, december) == Decimal("7.50")
    assert store.rate_days(december) is None


def test_saving_the_same_day_and_pair_again_replaces_it(store: Store) -> None:
    store.save_rates([rate(JUNE_3, "EUR", "USD", "1.10")], fetched_at=FETCHED)
    store.save_rates(
        [rate(JUNE_3, "EUR", "USD", "1.12"), rate(JUNE_5, "EUR", "USD", "1.14")],
        fetched_at=FETCHED,
    )

    assert store.rates() == [
        rate(JUNE_3, "EUR", "USD", "1.12"),
        rate(JUNE_5, "EUR", "USD", "1.14"),
    ]
    assert store.rate_spans() == {"USD": (JUNE_3, JUNE_5)}


# -- the ECB's calendar and what a refresh fetches -------------------------------------


def test_rates_are_published_at_16_00_frankfurt_on_target_business_days() -> None:
    # Thursday 17 April 2025, 13:59 UTC = 15:59 in Frankfurt (CEST): Wednesday's.
    assert published_through(dt.datetime(2025, 4, 17, 13, 59, tzinfo=dt.UTC)) == (
        dt.date(2025, 4, 16)
    )
    assert published_through(dt.datetime(2025, 4, 17, 14, 0, tzinfo=dt.UTC)) == (
        dt.date(2025, 4, 17)
    )
    # Easter Monday 21 April 2025, evening: Good Friday (18th) is closed too, and
    # the weekend: the newest rates are Thursday's.
    assert published_through(dt.datetime(2025, 4, 21, 18, tzinfo=dt.UTC)) == (
        dt.date(2025, 4, 17)
    )


def test_a_currency_the_ecb_does_not_publish_is_not_fetched_again() -> None:
    # The stored ECB rates (any currency) span April 24–25; VND has none of them.
    spans = {"USD": (dt.date(2025, 4, 24), dt.date(2025, 4, 25))}
    needed = {"VND": (dt.date(2025, 4, 25), dt.date(2025, 4, 25))}

    assert uncovered_since(needed, spans, "EUR", dt.date(2025, 4, 25)) is None
    # Once the ECB has published Monday the 28th, that day is missing.
    needed = {"USD": (dt.date(2025, 4, 25), dt.date(2025, 4, 28))}
    assert uncovered_since(needed, spans, "EUR", dt.date(2025, 4, 28)) == (
        dt.date(2025, 4, 26)
    )


# -- the ECB's files -------------------------------------------------------------------

APRIL_24 = dt.date(2025, 4, 24)
APRIL_25 = dt.date(2025, 4, 25)
NINETY_DAYS = [
    rate(APRIL_24, "EUR", "GBP", "0.855"),
    rate(APRIL_24, "EUR", "JPY", "162.16"),
    rate(APRIL_24, "EUR", "USD", "1.1376"),
    rate(APRIL_25, "EUR", "GBP", "0.8531"),
    rate(APRIL_25, "EUR", "JPY", "162.8"),
    rate(APRIL_25, "EUR", "USD", "1.1357"),
]


def history_zip() -> bytes:
    """``eurofxref-hist.zip`` as the ECB serves it: one CSV file in a zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(DATA / "eurofxref-hist.csv", "eurofxref-hist.csv")
    return buffer.getvalue()


def by_day_and_quote(rates: list[Rate]) -> list[Rate]:
    return sorted(rates, key=lambda r: (r.day, r.quote))


def test_the_90_day_xml_is_read_rate_by_rate() -> None:
    rates = parse_xml((DATA / "eurofxref-hist-90d.xml").read_bytes())

    assert by_day_and_quote(rates) == NINETY_DAYS


def test_the_history_csv_skips_na_cells_and_the_trailing_empty_column() -> None:
    rates = parse_history_zip(history_zip())

    # Four days × USD, JPY, GBP; Cyprus's pound is N/A on each day.
    assert by_day_and_quote(rates) == [
        rate(dt.date(2019, 4, 9), "EUR", "GBP", "0.86335"),
        rate(dt.date(2019, 4, 9), "EUR", "JPY", "125.51"),
        rate(dt.date(2019, 4, 9), "EUR", "USD", "1.1277"),
        rate(dt.date(2019, 4, 10), "EUR", "GBP", "0.86083"),
        rate(dt.date(2019, 4, 10), "EUR", "JPY", "125.38"),
        rate(dt.date(2019, 4, 10), "EUR", "USD", "1.1279"),
        *NINETY_DAYS,
    ]


# -- refresh ---------------------------------------------------------------------------

# Monday 28 April 2025, 12:00 in Frankfurt: the newest published rates are Friday's.
MONDAY = dt.datetime(2025, 4, 28, 10, tzinfo=dt.UTC)


class EcbFiles:
    """The ECB's two files over a mock transport, with the URLs asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(str(request.url))
        name = request.url.path.rsplit("/", 1)[-1]
        if name == "eurofxref-hist-90d.xml":
            return httpx.Response(200, content=(DATA / name).read_bytes())
        if name == "eurofxref-hist.zip":
            return httpx.Response(200, content=history_zip())
        return httpx.Response(404)


def refresh(store: Store, files: EcbFiles) -> list[RatesResult]:
    reports: list[RatesResult] = []
    results = run_refresh(
        make_settings("budget:\n  currency: EUR\n"),
        store,
        now=MONDAY,
        transport=httpx.MockTransport(files),
        on_rates=reports.append,
    )
    assert results == []
    return reports


def test_a_refresh_fetches_the_90_day_file_once_and_converts_with_it(
    store: Store,
) -> None:
    seed(
        store,
        bill("usd-friday", "USD", "113.57", APRIL_25),
        bill("jpy-saturday", "JPY", "16280", dt.date(2025, 4, 26)),
    )
    files = EcbFiles()

    [report] = refresh(store, files)

    assert files.asked == [f"{ECB_FOLDER}/eurofxref-hist-90d.xml"]
    assert report.ok
    assert report.summary().startswith(
        "exchange rates: ok: 6 rates of 2 days (2025-04-24 to 2025-04-25) from "
        "eurofxref-hist-90d.xml ("
    )
    assert by_day_and_quote(store.rates()) == NINETY_DAYS
    # $113.57 ÷ 1.1357 = €100.00 on Friday; ¥16,280 ÷ 162.8 = €100.00 on Saturday,
    # at Friday's rate: €200.00, to the twelfth place.
    assert spent(store, APRIL_EUR) == Decimal("200.000000000000")
    assert store.rate_days(APRIL_EUR) == (APRIL_25, APRIL_25)

    # Nothing new is needed: the second refresh asks the ECB nothing.
    assert refresh(store, files) == []
    assert len(files.asked) == 1
    assert len(store.rates()) == 6


def test_charges_older_than_the_90_days_fetch_the_whole_history(
    store: Store,
) -> None:
    seed(store, bill("usd-2019", "USD", "112.79", dt.date(2019, 4, 10)))
    files = EcbFiles()

    [report] = refresh(store, files)

    assert files.asked == [f"{ECB_FOLDER}/eurofxref-hist.zip"]
    assert report.ok
    assert len(store.rates()) == 12
    # $112.79 ÷ 1.1279 = €100.00 on 10 April 2019.
    assert spent(store, APRIL_2019_EUR) == Decimal("100.000000000000")


def test_a_failed_fetch_without_stored_rates_says_what_stays_unconverted(
    store: Store,
) -> None:
    seed(store, bill("usd-friday", "USD", "113.57", APRIL_25))
    reports: list[RatesResult] = []

    run_refresh(
        make_settings("budget:\n  currency: EUR\n"),
        store,
        now=MONDAY,
        transport=httpx.MockTransport(lambda request: httpx.Response(503)),
        on_rates=reports.append,
    )

    assert [r.summary() for r in reports] == [
        f"exchange rates: failed: GET {ECB_FOLDER}/eurofxref-hist-90d.xml answered "
        "503 Service Unavailable. No rates are stored yet, so charges in USD stay "
        "unconverted; refresh again once the ECB is reachable, or set fixed rates "
        "under budget.rates in config.yml."
    ]
    assert store.rates() == []
    assert store.unconverted(APRIL_EUR) == [("USD", Decimal("113.57"))]


# -- qoins --refresh -------------------------------------------------------------------


class RecordingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; remembers the paths asked for instead of logging them."""

    asked: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        self.asked.append(self.path)


@pytest.fixture
def ecb_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server with the ECB's two files: its URL and the paths asked."""
    folder = tmp_path / "ecb"
    folder.mkdir()
    (folder / "eurofxref-hist.zip").write_bytes(history_zip())
    asked: list[str] = []
    handler = type("Handler", (RecordingHandler,), {"asked": asked})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def eur_config(tmp_path: Path) -> Path:
    config = tmp_path / "config.yml"
    config.write_text(EUR_BUDGET)
    return config


def test_qoins_refresh_fetches_from_qoins_ecb_url_and_prints_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    ecb_server: tuple[str, list[str]],
) -> None:
    url, asked = ecb_server
    monkeypatch.setenv(URL_VARIABLE, url)
    db = tmp_path / "store.duckdb"
    seed(Store(db), bill("usd-2019", "USD", "112.79", dt.date(2019, 4, 10)))
    config = eur_config(tmp_path)

    code = main(["--config", str(config), "--db", str(db), "--refresh"])

    err = capsys.readouterr().err
    assert code == 0
    assert asked == ["/eurofxref-hist.zip"]
    [line] = [x for x in err.splitlines() if x.startswith("exchange rates:")]
    assert line.startswith(
        "exchange rates: ok: 12 rates of 4 days (2019-04-09 to 2025-04-25) from "
        "eurofxref-hist.zip ("
    )
    main(["--config", str(config), "--db", str(db), "status", "--month", "2019-04"])
    # $112.79 ÷ 1.1279 = €100.00 of €100.00.
    assert "Budget: €100.00 / €100.00 (100%)" in capsys.readouterr().out


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_failed_fetch_keeps_the_stored_rates_warns_and_exits_0(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv(URL_VARIABLE, url)
    db = tmp_path / "store.duckdb"
    store = Store(db)
    # Monday 28 April needs that day's rate, newer than the stored Friday's.
    seed(store, bill("usd-monday", "USD", "113.57", dt.date(2025, 4, 28)))
    store.save_rates(NINETY_DAYS, fetched_at=FETCHED)
    config = eur_config(tmp_path)

    code = main(["--config", str(config), "--db", str(db), "-q", "--refresh"])

    err = capsys.readouterr().err
    assert code == 0
    # -q keeps ok lines quiet, not this failure.
    [line] = [x for x in err.splitlines() if x.startswith("exchange rates:")]
    assert line.startswith(
        f"exchange rates: failed: GET {url}/eurofxref-hist.zip failed: ConnectError: "
    )
    assert line.endswith(
        ". Kept the stored rates, the newest of 2025-04-25, for the days after it; "
        "refresh again once the ECB is reachable."
    )
    assert by_day_and_quote(store.rates()) == NINETY_DAYS
    # Monday's $113.57 takes Friday's 1.1357: €100.00, noted with Friday's date.
    args = ["--config", str(config), "--db", str(db), "status", "--month", "2025-04"]
    main([*args, "--json"])
    status = json.loads(capsys.readouterr().out, parse_float=Decimal)
    assert status["spent"] == Decimal("100")
    assert status["rates"] == {"origin": ECB, "from": "2025-04-25", "to": "2025-04-25"}
