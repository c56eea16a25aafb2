"""The ``qoins`` command: the app, ``--refresh`` for cron and the subcommands.

Options that apply to every command (``--config``, ``--db``, ``-v``, ``-q``) go before
the subcommand. stdout carries data only (the status box, JSON); every diagnostic
goes to stderr. Exit codes: 0 done, 1 a source or file failed, 2 QOINs itself could
not run (bad config, store unavailable). Textual is imported only to open the app.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from qoins_tui import __version__, keys, locations
from qoins_tui.analysis import Month
from qoins_tui.config import Settings, load_settings
from qoins_tui.errors import ConfigError, ImportFormatError, QoinsError
from qoins_tui.fx import RatesResult
from qoins_tui.money import format_money, format_percent
from qoins_tui.refresh import Progress, SourceResult, import_files, run_refresh
from qoins_tui.store import Store

if TYPE_CHECKING:
    from qoins_tui.alerts import AlertRun
    from qoins_tui.summary import MonthSummary

logger = logging.getLogger("qoins_tui")

IMPORT_FORMATS = ("focus", "cursor", "gcp", "azure")
IMPORTABLE = ("focus", "cursor")
"""The formats this version reads; the others are refused with a message."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qoins",
        description=(
            "Keep development spending under control. Without a command, opens the "
            "terminal app on your store."
        ),
        epilog=(
            "Files: the config is --config, else $QOINS_CONFIG, else ./config.yml, "
            f"else {locations.config_dir() / 'config.yml'}; the store is --db, else "
            f"$QOINS_DB, else {locations.default_db_path()}."
        ),
    )
    parser.add_argument("--config", metavar="PATH", help="the config file to read")
    parser.add_argument("--db", metavar="PATH", help="the DuckDB store to use")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="more detail on stderr"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="only failures on stderr (for cron)"
    )
    parser.add_argument("--version", action="version", version=f"qoins {__version__}")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--refresh",
        action="store_true",
        help="refresh every configured or detected source without the app, then exit",
    )
    mode.add_argument(
        "--demo",
        action="store_true",
        help="open the app on a throwaway store filled with demo data",
    )
    mode.add_argument(
        "--demo-if-empty",
        action="store_true",
        help="open your own data when QOINs finds any, else the demo",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        dest="refresh_json",
        help="with --refresh: print a JSON summary of the refresh on stdout",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = commands.add_parser(
        "status",
        help="this month's spending against the budget",
        description="Print the month's spending, budget, top services and forecast.",
    )
    status.add_argument(
        "--month", metavar="YYYY-MM", help="another month than this one"
    )
    status.add_argument("--json", action="store_true", help="print the status as JSON")

    check = commands.add_parser(
        "check",
        help="exit 3 when a budget is used up to a threshold, for scripts and CI",
        description=(
            "Compare the month's spending with every budget (the total and each "
            "source's) and print one line per budget. Exit code 0 when every budget "
            "is below the threshold, 3 when one is at or above it, 2 when QOINs cannot "
            "tell (no budget set, no store, a bad config)."
        ),
    )
    check.add_argument(
        "--threshold",
        metavar="PERCENT",
        default="100",
        help="the share of a budget that fails the check (default 100)",
    )
    check.add_argument("--month", metavar="YYYY-MM", help="another month than this one")

    imports = commands.add_parser(
        "import",
        help="import cost export files once",
        description=(
            "Import cost export files into the store. Importing a FOCUS file again "
            "replaces its rows; an unchanged file is skipped. Cursor usage exports "
            "share one source, so a request in two overlapping exports counts once."
        ),
    )
    imports.add_argument("paths", nargs="+", metavar="PATH", type=Path)
    imports.add_argument(
        "--format",
        choices=IMPORT_FORMATS,
        help=(
            "the files' format, detected from the header when not given; this version "
            "reads focus and cursor, and refuses gcp and azure"
        ),
    )

    budget = commands.add_parser(
        "budget",
        help="budgets: this month's state, list, set and their history",
        description=(
            "Without an action, print the month's spending against the total budget "
            "and every source's budget. A scope is total (budget.monthly_limit) or a "
            "source's name (services.NAME.budget_limit)."
        ),
    )
    budget.add_argument(
        "--month", metavar="YYYY-MM", help="another month than this one"
    )
    budget.add_argument("--json", action="store_true", help="print as JSON")
    budget_actions = budget.add_subparsers(dest="budget_command", metavar="[ACTION]")
    budget_list = budget_actions.add_parser(
        "list",
        help="every budget scope and its amount",
        description="List the total and every source a budget can be set on.",
    )
    budget_set = budget_actions.add_parser(
        "set",
        help="set or remove a budget in config.yml",
        description=(
            "Write AMOUNT as the budget of SCOPE into config.yml, keeping every other "
            "line, comment included, as it was, and record the change (qoins budget "
            "history). Without a config.yml anywhere, one is created in the user "
            "config dir."
        ),
    )
    budget_set.add_argument(
        "scope",
        metavar="SCOPE",
        help="total, or a source's name under services such as claude_code",
    )
    budget_set.add_argument(
        "amount",
        metavar="AMOUNT",
        help=(
            "a plain number in the budget currency with at most two decimals, such as "
            "50 or 49.99; none removes the budget"
        ),
    )
    budget_history = budget_actions.add_parser(
        "history",
        help="every budget change, newest first",
        description="List every budget change recorded: scope, old and new amount, "
        "when, and the file written.",
    )
    for action in (budget_list, budget_history):
        action.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="as JSON"
        )

    alerts = commands.add_parser(
        "alerts",
        help="alerts raised by the budget, spike and renewal rules",
        description=(
            "List the alerts refreshes raised, newest first, with their delivery on "
            "each channel. Without an action, the active ones: neither acknowledged "
            "nor cleared, nor covered (a threshold crossed together with a higher "
            "one, stored but not sent)."
        ),
    )
    alerts.add_argument(
        "--all",
        action="store_true",
        help="every alert, acknowledged, cleared and covered ones included",
    )
    alerts.add_argument("--json", action="store_true", help="print as JSON")
    alert_actions = alerts.add_subparsers(dest="alerts_command", metavar="[ACTION]")
    alert_ack = alert_actions.add_parser(
        "ack",
        help="acknowledge alerts so they leave the active list",
        description="Acknowledge the alerts with the numbers given (see qoins alerts).",
    )
    alert_ack.add_argument("ids", nargs="+", type=int, metavar="ID")
    alert_actions.add_parser(
        "rules",
        help="every alert rule with its condition and channels",
        description="List the rules config.yml defines, in words, with their channels.",
    )

    name_help = (
        "the source's name under services in config.yml, such as openai (NAME.FIELD "
        "for a source's second secret), or notify.CHANNEL for the secret of a "
        "channel under notifications"
    )
    keys_parser = commands.add_parser(
        "keys",
        help="API keys in the OS keyring",
        description=(
            f"Keep API keys in the OS keyring (service {keys.SERVICE}, user = the "
            "source's name under services). For cron and servers without a keyring, "
            'write api_key: "${VAR}" under the source in config.yml instead.'
        ),
    )
    actions = keys_parser.add_subparsers(
        dest="keys_command", metavar="ACTION", required=True
    )
    key_set = actions.add_parser(
        "set",
        help="store a source's key in the keyring",
        description=(
            "Store the key of NAME in the OS keyring, replacing any key stored before. "
            "At a terminal the key is asked for without being shown; otherwise it is "
            "read from standard input (spaces, tabs and one trailing newline around "
            "it are dropped), for "
            'scripts: printf %s "$KEY" | qoins keys set openai'
        ),
    )
    key_set.add_argument("name", metavar="NAME", help=name_help)
    key_list = actions.add_parser(
        "list",
        help="every key and where it comes from",
        description=(
            "List the key of every source in config.yml that takes one, and every "
            "name QOINs stored in the keyring, with where a refresh takes each from: "
            "the keyring, a ${VAR} of config.yml (named, never shown), or nowhere. "
            "Keys themselves are never printed."
        ),
    )
    key_list.add_argument("--json", action="store_true", help="print the list as JSON")
    key_delete = actions.add_parser(
        "delete",
        help="remove a key from the keyring",
        description="Remove the key of NAME from the OS keyring.",
    )
    key_delete.add_argument("name", metavar="NAME", help=name_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    if args.refresh_json and not args.refresh:
        parser.error(
            "--json before a command goes with --refresh; for status write "
            "`qoins status --json`"
        )
    if args.refresh and args.command:
        parser.error(f"--refresh runs on its own, not with the {args.command} command")
    try:
        if args.command == "keys":
            return _keys(args)
        if args.command == "status":
            return _status(args)
        if args.command == "budget":
            return _budget(parser, args)
        if args.command == "check":
            return _check(args)
        if args.command == "alerts":
            return _alerts(args)
        if args.command == "import":
            return _import(args)
        if args.refresh:
            return _refresh(args)
        return _app(args)
    except QoinsError as exc:
        _say(f"qoins: {exc.title}: {exc.message}")
        return 2
    except KeyboardInterrupt:
        _say(("\n" if sys.stderr.isatty() else "") + "qoins: interrupted")
        return 130


def _configure_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("qoins: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    for warning in settings.warnings:
        logger.warning("%s", warning)
    return settings


def _store(args: argparse.Namespace) -> Store:
    return Store(locations.db_path(args.db))


def _refresh(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = _store(args)

    live = sys.stderr.isatty() and not args.quiet

    def starting(progress: Progress) -> None:
        if live and progress.source is not None:
            sys.stderr.write(
                f"\r\033[K[{progress.done + 1}/{progress.total}] "
                f"{progress.source} ({progress.title})…"
            )
            sys.stderr.flush()

    def report(result: SourceResult) -> None:
        if live:
            sys.stderr.write("\r\033[K")
        if not args.quiet or not result.ok:
            _say(result.summary())
        if args.verbose:
            for note in result.counts.notes:
                _say(f"  {note}")

    def report_rates(rates: RatesResult) -> None:
        if live:
            sys.stderr.write("\r\033[K")
        if not args.quiet or not rates.ok:
            _say(rates.summary())

    results = run_refresh(
        settings, store, progress=starting, on_result=report, on_rates=report_rates
    )
    if not results:
        from qoins_tui.discovery import findings

        looked = "; ".join(
            f"{f.what}: {f.where}" for f in findings(settings, args.config)
        )
        _say(
            f"qoins: no sources configured or detected (looked for {looked}). Add "
            "one under services in config.yml, or import a cost export with "
            "`qoins import FILE`."
        )
    run = _check_alerts(settings, store)
    if args.refresh_json:
        sys.stdout.write(_refresh_json(results, run) + "\n")
    return 0 if run is not None and all(r.ok for r in results) else 1


def _check_alerts(settings: Settings, store: Store) -> AlertRun | None:
    """Judge the alert rules after a refresh: print each new alert, deliver it on its
    channels and report deliveries that failed (retried on the next refresh).
    None when the rules could not be judged."""
    from qoins_tui.alerts import check_alerts
    from qoins_tui.notify import deliver

    try:
        run = check_alerts(
            settings,
            store,
            now=dt.datetime.now(dt.UTC),
            front=("terminal",),
            send=deliver,
        )
    except QoinsError as exc:
        _say(f"alerts: not checked: {exc.message}")
        return None
    for alert in run.shown:
        _say(f"alert: {alert.title}")
        for line in alert.message.splitlines():
            _say(f"  {line}")
    for attempt in run.failures:
        _say(
            f"alert: delivery of {attempt.alert.title!r} failed: {attempt.error} "
            "(tried again on the next refresh)"
        )
    return run


def _refresh_json(results: Sequence[SourceResult], run: AlertRun | None) -> str:
    from qoins_tui.status import alert_object, to_json

    return to_json(
        {
            "ok": all(r.ok for r in results),
            "sources": [
                {
                    "source": r.source,
                    "ok": r.ok,
                    "read": r.counts.read,
                    "new": r.counts.new,
                    "changed": r.counts.changed,
                    "duplicate": r.counts.duplicate,
                    "malformed": r.counts.malformed,
                    "skipped": r.counts.skipped,
                    "unpriced": r.counts.unpriced,
                    "error": r.error,
                }
                for r in results
            ],
            "alerts": None if run is None else [alert_object(a) for a in run.shown],
        }
    )


def _month_summary(args: argparse.Namespace) -> MonthSummary:
    """The month of ``--month`` (else this one) as ``status`` and ``budget`` show it,
    read from the store without writing it."""
    from qoins_tui.summary import build_summary, local_today

    settings = _settings(args)
    now = dt.datetime.now(dt.UTC)
    try:
        month = (
            Month.parse(args.month)
            if args.month
            else Month.of(local_today(settings, now))
        )
    except ValueError as exc:
        raise QoinsError(f"--month: {exc}", title="Invalid option") from exc
    store = Store(locations.db_path(args.db), read_only=True)
    return build_summary(store, settings, month, now)


def _status(args: argparse.Namespace) -> int:
    from qoins_tui.status import status_box, status_object, to_json

    summary = _month_summary(args)
    if args.json:
        sys.stdout.write(to_json(status_object(summary)) + "\n")
    else:
        sys.stdout.write(status_box(summary) + "\n")
    return 0


CHECK_FAILED = 3
"""The exit code of ``qoins check`` when a budget reaches the threshold."""


def _check(args: argparse.Namespace) -> int:
    try:
        threshold = Decimal(args.threshold)
    except ArithmeticError:
        threshold = Decimal("NaN")
    if not threshold.is_finite() or not 0 < threshold <= 1000:
        raise QoinsError(
            f"--threshold: {args.threshold!r} is not a percentage; write a number "
            "above 0 and at most 1000, such as 90.",
            title="Invalid option",
        )
    summary = _month_summary(args)
    cur = summary.currency
    if summary.unconverted:
        missing = ", ".join(currency for currency, _ in summary.unconverted)
        raise QoinsError(
            f"spending in {missing} has no exchange rate into {cur} for its days, so "
            "the budgets cannot be checked; `qoins --refresh` fetches the ECB's "
            "rates, or add a fixed rate under budget.rates in config.yml.",
            title="Cannot check",
        )
    budgets = [("total", summary.budget, summary.spent, summary.percent)]
    budgets += summary.budgets
    checked = [b for b in budgets if b[1] is not None]
    if not checked:
        raise ConfigError(
            "no budget to check: set one with `qoins budget set total AMOUNT` or "
            "budget.monthly_limit in config.yml."
        )
    shown = format(threshold.normalize(), "f")
    reached = 0
    for scope, amount, spent, percent in checked:
        assert amount is not None
        # A budget of 0 allows nothing: any spending reaches it.
        over = spent > 0 if percent is None else percent >= threshold
        reached += over
        verdict = "at or above" if over else "below"
        sys.stdout.write(
            f"{scope}: {format_money(spent, cur)} of {format_money(amount, cur)} "
            f"({format_percent(percent)}), {verdict} {shown}%\n"
        )
    return CHECK_FAILED if reached else 0


def _budget(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.month and args.budget_command:
        parser.error(
            f"--month goes with `qoins budget` alone, not with {args.budget_command}"
        )
    if args.budget_command == "set":
        return _budget_set(args)
    if args.budget_command == "list":
        _budget_list(args)
    elif args.budget_command == "history":
        _budget_history(args)
    else:
        _budget_state(args)
    return 0


def _amount(amount: Decimal | None, currency: str) -> str:
    return "no budget" if amount is None else format_money(amount, currency)


def _budget_state(args: argparse.Namespace) -> None:
    from qoins_tui.status import budget_object, to_json

    summary = _month_summary(args)
    if args.json:
        sys.stdout.write(to_json(budget_object(summary)) + "\n")
        return
    cur = summary.currency
    rows = [("total", summary.budget, summary.spent, summary.percent)]
    rows += summary.budgets
    width = max(len(scope) for scope, *_ in rows)
    lines = [f"QOINs budgets · {summary.month.label}"]
    for scope, amount, spent, percent in rows:
        if amount is None:
            text = f"{format_money(spent, cur)} spent, no budget"
        else:
            text = f"{format_money(spent, cur)} of {format_money(amount, cur)}"
            left = amount - spent
            word = "left" if left >= 0 else "over"
            text += (
                f" ({format_percent(percent)}), {format_money(abs(left), cur)} {word}"
            )
        lines.append(f"{scope:<{width}}  {text}")
    projected = summary.forecast.projected
    if summary.is_current and projected is not None:
        lines.append(f"Projected month-end total: {format_money(projected, cur)}")
    sys.stdout.write("\n".join(lines) + "\n")


def _budget_list(args: argparse.Namespace) -> None:
    from qoins_tui.budgets import list_budgets
    from qoins_tui.status import to_json

    settings = _settings(args)
    lines = list_budgets(settings)
    currency = settings.budget.currency
    if args.json:
        listed = {
            "currency": currency,
            "config": str(settings.path) if settings.path else None,
            "budgets": [{"scope": b.scope, "amount": b.amount} for b in lines],
        }
        sys.stdout.write(to_json(listed) + "\n")
        return
    width = max(len(b.scope) for b in lines)
    for b in lines:
        sys.stdout.write(f"{b.scope:<{width}}  {_amount(b.amount, currency)}\n")


def _budget_set(args: argparse.Namespace) -> int:
    from qoins_tui.budgets import set_budget
    from qoins_tui.config import find_config

    update = set_budget(
        _store(args),
        find_config(args.config),
        args.scope,
        args.amount,
        dt.datetime.now(dt.UTC),
    )
    old, new = (
        _amount(update.old, update.currency),
        _amount(update.new, update.currency),
    )
    if not update.changed:
        _say(f"qoins: {update.scope}: {old} already; nothing changed.")
        return 0
    if update.created:
        _say(f"qoins: created {update.path}, as no config.yml existed.")
    _say(f"qoins: {update.scope}: {old} → {new}, written to {update.path}.")
    return 0


def _budget_history(args: argparse.Namespace) -> None:
    from qoins_tui.status import to_json

    settings = _settings(args)
    store = Store(locations.db_path(args.db), read_only=True)
    changes = store.budget_changes() if store.path.is_file() else []
    if args.json:
        listed = [
            {
                "scope": c.scope,
                "old": c.old,
                "new": c.new,
                "currency": c.currency,
                "changed_at": c.changed_at.astimezone(dt.UTC)
                .isoformat()
                .replace("+00:00", "Z"),
                "config": c.config_path,
            }
            for c in changes
        ]
        sys.stdout.write(to_json(listed) + "\n")
        return
    if not changes:
        _say("qoins: no budget changes recorded yet.")
        return
    zone = settings.budget.zone
    for c in changes:
        when = c.changed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        sys.stdout.write(
            f"{when}  {c.scope}  {_amount(c.old, c.currency)} → "
            f"{_amount(c.new, c.currency)}  {c.config_path}\n"
        )


def _import(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = _store(args)
    accepted: list[tuple[Path, str]] = []
    failed = 0
    for path in args.paths:
        if not path.is_file():
            what = "is not a file" if path.exists() else "no such file"
            _say(f"qoins: {path}: {what}.")
            failed += 1
            continue
        try:
            fmt = args.format or _detect_format(path, store)
        except ImportFormatError as exc:
            _say(f"qoins: {exc.message}")
            failed += 1
            continue
        if fmt not in IMPORTABLE:
            _say(
                f"qoins: {path}: the {fmt} format is not supported in this version of "
                "QOINs; convert the file to a FOCUS export or wait for its importer."
            )
            failed += 1
            continue
        accepted.append((path, fmt))
    for path, fmt in accepted:
        [result] = import_files(settings, store, [path], fmt=fmt)
        name = str(path.resolve())
        if not result.ok:
            error = result.error or "unknown error"
            # Most errors name the file and say it was not imported already.
            said = name in error or str(path) in error
            _say(f"qoins: {error}" if said else f"qoins: {name}: not imported: {error}")
            failed += 1
        elif fmt == "cursor":
            _say(_merged_summary(name, result))
        elif result.counts.notes:
            for note in result.counts.notes:
                _say(f"{note}.")
        elif result.counts.files_read == 0:
            _say(f"{name}: unchanged since its last import; nothing to do.")
        else:
            c = result.counts
            _say(f"{name}: imported {c.read} rows ({c.new} new, {c.changed} replaced).")
    return 1 if failed else 0


def _merged_summary(name: str, result: SourceResult) -> str:
    """What an import into a shared source did: rows another export already brought
    in are counted as already stored, not as new."""
    c = result.counts
    kept = c.counted - c.new - c.changed
    text = (
        f"{name}: {c.read} rows read into source {result.source}: {c.new} new, "
        f"{c.changed} changed, {kept} already stored"
    )
    if c.skipped:
        text += f", {c.skipped} not billed (skipped)"
    return text + "."


def _detect_format(path: Path, store: Store) -> str:
    from collectors import cursor, focus

    try:
        kind, _ = focus.sniff_format(path)
        columns = (
            store.parquet_columns(path)
            if kind == "parquet"
            else focus.header_columns(path)
        )
    except (OSError, EOFError) as exc:
        raise ImportFormatError(f"{path}: cannot be read ({exc}).") from exc
    if focus.looks_like_focus(columns):
        return "focus"
    if cursor.looks_like_cursor(columns):
        return "cursor"
    if not all(name.isprintable() for name in columns):
        raise ImportFormatError(
            f"{path}: is not a text file a CSV or JSON-lines export would be, nor "
            "Parquet; nothing was imported."
        )
    shown = ", ".join(columns[:8]) + (", …" if len(columns) > 8 else "")
    raise ImportFormatError(
        f"{path}: unknown format (columns: {shown or 'none'}). A FOCUS export has "
        f"{', '.join(focus.REQUIRED)} and ProviderName or ServiceProviderName; a "
        f"Cursor usage export has {', '.join(cursor.REQUIRED)} and "
        f"{' or '.join(cursor.DETECTING)}; name the format with --format when it is "
        "another one."
    )


def _alerts(args: argparse.Namespace) -> int:
    if args.alerts_command == "rules":
        from qoins_tui.alerts import rule_rows

        rows = rule_rows(_settings(args))
        if not rows:
            _say("qoins: no alert rules: set a budget or list subscriptions first.")
        for row in rows:
            sys.stdout.write(
                f"{row.scope:<14} {row.rule:<16} {row.condition} → "
                f"{', '.join(row.channels) or 'nowhere'}\n"
            )
        return 0
    store = Store(locations.db_path(args.db), read_only=args.alerts_command is None)
    if args.alerts_command == "ack":
        known = {a.alert_id: a for a in store.alerts()}
        unknown = [i for i in args.ids if i not in known]
        if unknown:
            raise QoinsError(
                f"no alert numbered {', '.join(map(str, unknown))}; `qoins alerts "
                "--all` lists them.",
                title="No such alert",
            )
        now = dt.datetime.now(dt.UTC)
        ids = list(dict.fromkeys(args.ids))
        done = [i for i in ids if known[i].state == "active"]
        for alert_id in done:
            store.acknowledge_alert(alert_id, now)
        if done:
            _say(f"qoins: acknowledged {_numbered(done)}.")
        for alert_id in ids:
            if alert_id not in done:
                _say(f"qoins: alert #{alert_id} is {known[alert_id].state} already.")
        return 0
    found = store.alerts()
    if not args.all:
        # An alert covered by another (a higher threshold, a spike within the day)
        # was never sent: --all shows it.
        found = [a for a in found if a.listed == "active"]
    if args.json:
        from qoins_tui.status import alert_object, to_json

        sys.stdout.write(to_json([alert_object(a) for a in found]) + "\n")
        return 0
    if not found:
        _say(
            "qoins: no active alerts."
            if not args.all
            else "qoins: no alerts yet; `qoins --refresh` judges the rules."
        )
    from qoins_tui.alerts import covered_note

    for alert in found:
        when = alert.fired_at.astimezone().strftime("%Y-%m-%d %H:%M")
        sent = ", ".join(
            f"{d.channel} {d.status}" + (f" ({d.error})" if d.error else "")
            for d in alert.deliveries
        )
        if alert.covered:
            sent = covered_note(alert)
        elif sent:
            sent = f"delivered: {sent}"
        sys.stdout.write(
            f"#{alert.alert_id} {when} [{alert.state}] {alert.title}\n"
            + "".join(f"    {line}\n" for line in alert.message.splitlines())
            + (f"    {sent}\n" if sent else "")
        )
    return 0


def _numbered(ids: Sequence[int]) -> str:
    """``alert #3`` or ``alerts #3, #5``."""
    numbers = ", ".join(f"#{i}" for i in ids)
    return f"alert {numbers}" if len(ids) == 1 else f"alerts {numbers}"


def _app(args: argparse.Namespace) -> int:
    from qoins_tui.discovery import has_user_data

    config_error = None
    try:
        settings = _settings(args)
    except ConfigError as exc:
        config_error = exc.message
        settings = Settings()
    store = _store(args)
    if args.demo or (
        args.demo_if_empty
        and config_error is None
        and not has_user_data(settings, store)
    ):
        return _demo()
    from qoins_tui.app import QoinsApp

    QoinsApp(settings, store, config_error=config_error, refresh_on_start=True).run()
    return 0


def _demo() -> int:
    from qoins_tui.demo import build_demo

    folder = Path(tempfile.mkdtemp(prefix="qoins-demo-"))
    try:
        _say("qoins: building the demo (a throwaway store; nothing of yours is read)…")
        now = dt.datetime.now(dt.UTC)
        settings = build_demo(folder, now)
        store = Store(folder / "demo.duckdb")
        run_refresh(settings, store, now=now)
        from qoins_tui.alerts import check_alerts

        # The demo judges the rules so its Alerts tab has something to show, and
        # sends nothing anywhere.
        check_alerts(settings, store, now=now, front=("terminal", "toast"), send=None)
        from qoins_tui.app import QoinsApp

        QoinsApp(settings, store, demo=True).run()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def _keys(args: argparse.Namespace) -> int:
    if args.keys_command == "set":
        name = keys.check_name(args.name)
        keys.set_key(name, _read_key(name))
        _say(
            f"qoins: stored the key of {name} in the OS keyring (service "
            f"{keys.SERVICE}, user {name})."
        )
        _unused_key_note(args, name)
    elif args.keys_command == "delete":
        name = keys.check_name(args.name)
        if keys.delete_key(name):
            _say(f"qoins: deleted the key of {name} from the OS keyring.")
        else:
            _say(f"qoins: the OS keyring holds no key for {name}; nothing to delete.")
    else:
        _keys_list(args)
    return 0


def _unused_key_note(args: argparse.Namespace, name: str) -> None:
    """Say so when no source in config.yml would use a key stored under ``name``,
    which is most often a typo."""
    try:
        settings = load_settings(args.config)
    except ConfigError:
        return
    users = keys.wanted_keys(settings)
    if name in users or name in keys.wanted_channel_keys(settings):
        return
    if name.startswith("notify."):
        channel = name.removeprefix("notify.")
        _say(
            f"qoins: note: config.yml has no notification channel {channel} that "
            "takes a secret; check the name, or add it under notifications."
        )
        return
    takers = ", ".join(sorted(users)) or "none"
    _say(
        f"qoins: note: no source in config.yml takes a key named {name} (those that "
        f"do: {takers}); check the name, or add the source under services."
    )


def _read_key(name: str) -> str:
    """The key from a hidden prompt at a terminal, else all of standard input less
    one trailing newline."""
    if sys.stdin.isatty():
        try:
            return getpass.getpass(f"Key for {name} (not shown): ")
        except EOFError:
            return ""
    text = sys.stdin.read()
    for newline in ("\r\n", "\n"):
        if text.endswith(newline):
            return text.removesuffix(newline)
    return text


def _keys_list(args: argparse.Namespace) -> None:
    report = keys.key_report(_settings(args))
    if report.keyring_error:
        _say(f"qoins: the keyring cannot be read: {report.keyring_error}")
    if args.json:
        listed = {
            "keyring": {
                "available": report.keyring_error is None,
                "error": report.keyring_error,
            },
            "keys": [
                {
                    "name": k.name,
                    "source": k.source,
                    "field": k.field,
                    "from": k.origin,
                    "in_keyring": k.in_keyring,
                    "variables": list(k.variables),
                    "variables_set": k.variables_set if k.variables else None,
                }
                for k in report.keys
            ],
        }
        sys.stdout.write(json.dumps(listed, indent=2) + "\n")
        return
    if not report.keys:
        _say(
            "qoins: no keys: no source in config.yml takes one, and QOINs stored none."
        )
        return
    width = max(len(k.name) for k in report.keys)
    for status in report.keys:
        sys.stdout.write(f"{status.name:<{width}}  {_key_origin(status)}\n")


def _key_origin(status: keys.KeyStatus) -> str:
    """Where a refresh takes the key from, in words; never the key."""
    named = ", ".join(f"${{{v}}}" for v in status.variables)
    if status.origin == "keyring":
        text = f"keyring (wins over {named})" if named else "keyring"
    elif status.origin == "variable":
        text = f"{named} (set)"
    elif status.origin == "config":
        text = "written in config.yml (the keyring or a ${VAR} keeps it safer)"
    elif status.origin == "unknown":
        text = "unknown: the keyring cannot be read"
    elif named:
        text = f'missing: {named} is not set; or run "qoins keys set {status.name}"'
    else:
        text = f'missing: run "qoins keys set {status.name}"'
    if status.source is None:
        what = "channel" if status.name.startswith("notify.") else "source"
        text += f" (no {what} in config.yml uses it)"
    elif status.source.startswith("notifications."):
        text += f" ({status.source}.{status.field})"
    return text
