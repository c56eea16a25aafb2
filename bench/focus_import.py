#!/usr/bin/env python3
"""Benchmark: importing a large FOCUS 1.0 CSV export, QOINs against DuckDB's bare read.

What it measures. A FOCUS 1.0 CSV of ``--rows`` rows (default one million) is made
from the project's real sample (``shared/data/focus/focus_sample_1.0.csv``: 44
columns, literal ``NULL``s, the same AWS / Microsoft / Oracle services), with costs,
charge dates, ids and resource ids varied so that rows differ. DuckDB writes it,
once; it is cached under ``bench/.work/focus/``. Then, each in a fresh subprocess so
that its peak memory (the child's ``ru_maxrss``) is its own, and each into a fresh
on-disk database:

  (a) bare read: ``CREATE TABLE t AS SELECT * FROM read_csv(file)``;
  (b) QOINs: ``qoins_tui.refresh.import_files(settings, Store(path), [file])``, the
      code path of ``qoins import``.

The timed region is the work itself (connect, read, commit, close), not the
interpreter's start or its imports. Each pair runs ``--repeat`` times (default 3);
the best time of each side is reported. The file is read once before the runs so
that both sides read it from the page cache.

Goals (DESIGN.md, "Store" and "Speed"):

  * QOINs' import takes at most 2x the bare read of the same file;
  * QOINs' import peaks under 1 GB of memory (1 GB = 1000 MB = 10^9 bytes).

The script also prints how QOINs' time splits over the SQL statements it runs
(the best run), and how many rows it imported. It is not a test: it never fails
because a goal is missed; it says so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import (
    MB,
    ROOT,
    WORK,
    high_water_mb,
    machine_line,
    print_statements,
    python_child,
    qoins_revision,
    run_measured,
    statement_timer,
    verdict,
)

FOCUS_WORK = WORK / "focus"
SAMPLE = ROOT.parent / "shared" / "data" / "focus" / "focus_sample_1.0.csv"
GENERATOR_VERSION = 1
"""Bump when the generated file's shape changes, so cached files are made again."""

MEMORY_GOAL_MB = 1000
RATIO_GOAL = 2.0

# Columns the sample writes without quotes (its numbers); every other column is
# quoted there, and so in the generated file. Columns scaled by a per-row factor,
# with the number of decimals the sample writes them with.
UNQUOTED = (
    "BilledCost",
    "ConsumedQuantity",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "ListCost",
    "PricingQuantity",
    "Id",
)
SCALED = {
    "BilledCost": 11,
    "EffectiveCost": 11,
    "ListCost": 11,
    "ContractedCost": 11,
    "ConsumedQuantity": 15,
    "PricingQuantity": 11,
}


# -- the generated file ----------------------------------------------------------


def generated_file(rows: int, sample: Path) -> tuple[Path, float | None]:
    """The cached CSV of ``rows`` rows, made now when missing (and how long that took).

    A child process writes it: DuckDB's memory in this process would otherwise be
    inherited into the peak memory (``ru_maxrss``) the measured children report.
    """
    FOCUS_WORK.mkdir(parents=True, exist_ok=True)
    target = FOCUS_WORK / f"focus_1.0_{rows}_v{GENERATOR_VERSION}.csv"
    if target.exists():
        return target, None
    started = time.perf_counter()
    subprocess.run(
        python_child(
            __file__,
            "--child",
            "generate",
            "--rows",
            str(rows),
            "--sample",
            str(sample),
            "--file",
            str(target),
        ),
        check=True,
        cwd=ROOT,
    )
    return target, time.perf_counter() - started


def generate(rows: int, sample: Path, target: Path) -> None:
    """Write ``rows`` varied copies of the sample's rows to ``target`` with DuckDB."""
    import duckdb

    partial = target.with_suffix(".partial.csv")
    con = duckdb.connect()
    try:
        con.execute(
            "CREATE TABLE sample AS SELECT row_number() OVER () - 1 AS j, * "
            "FROM read_csv($path, header = true, all_varchar = true, "
            "nullstr = 'NULL')",
            {"path": str(sample)},
        )
        names = [
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'sample' AND column_name <> 'j' "
                "ORDER BY ordinal_position"
            ).fetchall()
        ]
        width = con.execute("SELECT count(*) FROM sample").fetchall()[0][0]
        copies = -(-rows // width)
        con.execute(
            f"""COPY (
                SELECT {", ".join(_varied(name) for name in names)}
                FROM (SELECT *,
                    bps + to_days(
                        CAST((date_diff('day', bps, cps) + k) % 30 AS INTEGER)
                    ) + (cps - date_trunc('day', cps)) AS shifted
                FROM (
                    SELECT k, s.*,
                        ((k * 7919 + s.j * 104729) % 1000 + 500)::DECIMAL(9,3) / 1000
                            AS factor,
                        try_cast("ChargePeriodStart" AS TIMESTAMP) AS cps,
                        try_cast("ChargePeriodEnd" AS TIMESTAMP) AS cpe,
                        try_cast("BillingPeriodStart" AS TIMESTAMP) AS bps
                    FROM range({copies}) r(k) CROSS JOIN sample s
                    ORDER BY k, s.j
                    LIMIT {rows}
                ))
            ) TO '{_sql_str(str(partial))}' (FORMAT csv, HEADER, NULLSTR 'NULL',
                FORCE_QUOTE ({", ".join(f'"{n}"' for n in names if n not in UNQUOTED)}))
            """
        )
    finally:
        con.close()
    partial.rename(target)


def _varied(name: str) -> str:
    """The SQL expression for one output column of generated row ``i`` (copy ``k``)."""
    column = f'"{name}"'
    if name in SCALED:
        scale = SCALED[name]
        return (
            f"CAST(CAST({column} AS DECIMAL(38,{scale})) * factor "
            f"AS DECIMAL(38,{scale}))::VARCHAR AS {column}"
        )
    if name == "ChargePeriodStart":
        return f"strftime(shifted, '%Y-%m-%d %H:%M:%S') AS {column}"
    if name == "ChargePeriodEnd":
        return f"strftime(shifted + (cpe - cps), '%Y-%m-%d %H:%M:%S') AS {column}"
    if name == "Id":
        return f"(try_cast({column} AS BIGINT) + k * 10000000)::VARCHAR AS {column}"
    if name == "ResourceId":
        return (
            f"CASE WHEN k = 0 THEN {column} ELSE {column} || '-' || k END AS {column}"
        )
    return column


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


# -- children: one measured import each -----------------------------------------


def child(mode: str, file: Path, db: Path) -> None:
    """Run one measured import and print its figures as one JSON line."""
    import duckdb

    if mode == "bare":
        started = time.perf_counter()
        con = duckdb.connect(str(db))
        con.execute(
            "CREATE TABLE t AS SELECT * FROM read_csv($file)", {"file": str(file)}
        ).fetchall()
        con.close()
        seconds = time.perf_counter() - started
        con = duckdb.connect(str(db), read_only=True)
        rows = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
        con.close()
        print(json.dumps({"seconds": seconds, "rows": rows, "hwm_mb": high_water_mb()}))
        return

    from qoins_tui.config import Settings
    from qoins_tui.refresh import import_files
    from qoins_tui.store import Store

    log: list[dict[str, Any]] = []
    store = Store(db)
    with statement_timer(log):
        started = time.perf_counter()
        results = import_files(Settings(), store, [file])
        seconds = time.perf_counter() - started
    with store.connect() as con:
        rows = con.execute("SELECT count(*) FROM charges").fetchall()[0][0]
    result = results[0]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": rows,
                "ok": result.ok,
                "error": result.error,
                "read": result.counts.read,
                "hwm_mb": high_water_mb(),
                "statements": log,
            }
        )
    )


def run_child(mode: str, file: Path, db: Path) -> dict[str, Any]:
    """One import in a new interpreter into a new database: figures, peak memory."""
    remove_database(db)
    measured = run_measured(
        python_child(__file__, "--child", mode, "--file", str(file), "--db", str(db))
    )
    remove_database(db)
    if not measured.ok or not measured.figures:
        return {"failed": f"exit code {measured.exit_code}"}
    figures = measured.figures
    figures["peak_mb"] = measured.peak_mb
    figures["process_seconds"] = measured.wall_s
    return figures


def remove_database(db: Path) -> None:
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)


# -- the report -----------------------------------------------------------------


def warm(file: Path) -> None:
    """Read the file once so that every run reads it from the page cache."""
    with file.open("rb") as handle:
        while handle.read(1 << 24):
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            "Measure QOINs' import of a generated FOCUS 1.0 CSV against DuckDB's "
            "bare read of the same file. Goals: QOINs <= 2x the bare read, and "
            "QOINs' peak memory under 1 GB."
        )
    )
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows in the generated file"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each side; the best counts"
    )
    parser.add_argument(
        "--sample", type=Path, default=SAMPLE, help="the FOCUS 1.0 sample to copy"
    )
    parser.add_argument(
        "--child", choices=("bare", "qoins", "generate"), help=argparse.SUPPRESS
    )
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "generate":
        generate(args.rows, args.sample, args.file)
        return 0
    if args.child:
        child(args.child, args.file, args.db)
        return 0
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")
    if not args.sample.is_file():
        parser.error(f"the sample {args.sample} does not exist")

    import duckdb

    file, made_in = generated_file(args.rows, args.sample)
    size_mb = file.stat().st_size / MB
    print(
        f"FOCUS import benchmark: {args.rows:,} rows; DuckDB {duckdb.__version__}, "
        f"Python {sys.version.split()[0]}"
    )
    print(f"machine: {machine_line()}")
    print(f"QOINs: commit {qoins_revision()}")
    how = f"generated in {made_in:.1f} s" if made_in is not None else "cached"
    print(f"file: {file.relative_to(ROOT)} ({size_mb:,.0f} MB, {how})")
    warm(file)

    db = FOCUS_WORK / "bench.duckdb"
    bare_runs: list[dict[str, Any]] = []
    qoins_runs: list[dict[str, Any]] = []
    print(
        f"\n{'run':>3}  {'bare read':>10}  {'peak':>8}  {'QOINs import':>12}  "
        f"{'peak':>8}  {'QOINs rows':>11}"
    )
    for run in range(1, args.repeat + 1):
        bare = run_child("bare", file, db)
        qoins = run_child("qoins", file, db)
        bare_runs.append(bare)
        qoins_runs.append(qoins)
        if "failed" in bare or "failed" in qoins:
            print(f"{run:>3}  a child failed: bare {bare}, QOINs {qoins}")
            return 1
        print(
            f"{run:>3}  {bare['seconds']:>8.2f} s  {bare['peak_mb']:>5.0f} MB  "
            f"{qoins['seconds']:>10.2f} s  {qoins['peak_mb']:>5.0f} MB  "
            f"{qoins['rows']:>11,}"
        )

    best_bare = min(bare_runs, key=lambda r: float(r["seconds"]))
    best_qoins = min(qoins_runs, key=lambda r: float(r["seconds"]))
    peak = max(float(r["peak_mb"]) for r in qoins_runs)
    ratio = best_qoins["seconds"] / best_bare["seconds"]
    print(
        f"\nbest bare read:    {best_bare['seconds']:.2f} s "
        f"({best_bare['rows']:,} rows, peak {best_bare['peak_mb']:.0f} MB)"
    )
    print(
        f"best QOINs import: {best_qoins['seconds']:.2f} s "
        f"({best_qoins['rows']:,} rows imported, refresh counted "
        f"{best_qoins['read']:,} read)"
    )
    if not best_qoins["ok"]:
        print(f"QOINs reported a failure: {best_qoins['error']}")
    print(
        f"rows imported: {best_qoins['rows']:,} of {args.rows:,} "
        f"({'all' if best_qoins['rows'] == args.rows else 'MISSING ROWS'})"
    )
    print(
        f"\nGoal: QOINs import <= {RATIO_GOAL:g}x the bare read: {ratio:.2f}x -> "
        f"{verdict(ratio <= RATIO_GOAL)}"
    )
    print(
        f"Goal: QOINs peak memory < {MEMORY_GOAL_MB} MB: {peak:.0f} MB (worst run) "
        f"-> {verdict(peak < MEMORY_GOAL_MB)}"
    )
    hwm = max(float(r["hwm_mb"]) for r in qoins_runs)
    print(
        f"(peak memory is the child's ru_maxrss from wait4; its own VmHWM says "
        f"{hwm:.0f} MB)"
    )
    print_statements(
        best_qoins["statements"],
        float(best_qoins["seconds"]),
        title="Where QOINs' import spends its time (best run), by statement",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
