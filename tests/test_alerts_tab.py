"""The Alerts tab driven by Textual's pilot: the list, its filter, acknowledging, an
alert in full and the rules.

The store is :mod:`tests.app_data`'s (now: Thursday 24 December 2026, 09:30 UTC,
zone UTC) with the alerts of :func:`seed_alerts`; every figure asserted here is
worked out by hand in that function's docstring or next to the assertion.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.style import Style
from rich.text import Text
from textual.content import Content
from textual.widgets import DataTable, Static, TabbedContent
from textual.widgets.data_table import ColumnKey

import qoins_tui.app
from qoins_tui.alerts import AlertRun
from qoins_tui.alerts_tab import (
    AlertDetail,
    AlertScreen,
    delivery_items,
    detail_lines,
    figures,
    pack,
    retries,
    rule_words,
)
from qoins_tui.app import QoinsApp
from qoins_tui.config import Settings
from qoins_tui.refresh import SourceResult
from qoins_tui.store import AlertDraft, AlertRecord, Delivery, Store
from tests import app_data
from tests.test_app_pilot import (
    NARROW,
    WIDE,
    cell,
    footer_keys,
    press,
    record_toasts,
    row_text,
    running,
    table_lines,
)


def _at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=dt.UTC)


SMTP_ERROR = (
    "SMTP 535 5.7.8 authentication failed for alerts@example.com at "
    "smtp.example.com:587. Check notifications.email.password in config.yml."
)
SLACK_ERROR = (
    "Slack answered 404 no_service: the webhook was removed. Make a new incoming "
    "webhook and put its URL under notifications.slack in config.yml."
)
DESKTOP_ERROR = (
    "No notification service on the session bus (org.freedesktop.Notifications)."
)


def _draft(
    rule: str,
    scope: str,
    severity: str,
    title: str,
    channels: tuple[str, ...],
    **figures: Decimal | bool | str,
) -> AlertDraft:
    kind = rule.split(":")[0]
    return AlertDraft(
        rule=rule,
        kind=kind,
        scope=scope,
        period=str(figures.pop("period", "2026-12")),
        severity=severity,
        title=title,
        message=str(figures.pop("message", title)),
        currency="USD",
        channels=channels,
        **figures,  # type: ignore[arg-type]
    )


def seed_alerts(store: Store) -> None:
    """Six alerts, oldest first (the list shows them newest first):

    1. Dec 15 10:00, aws_focus spike, warning: $5.95 that day (EC2 $1.10 + S3
       $4.85) against $1.10 usual. toast sent; slack failed three times, last on
       Dec 17: nine days after it fired, more than the 7 days of retries, so it
       gave up. Active.
    2. Dec 16 09:12, aws_focus projected 100%, warning: spent $17.75, projected
       $31.20 of $30.00 (104%). terminal and toast sent. Cleared Dec 19 09:12.
    3. Dec 21 09:12, JetBrains renewal, info: $289.00. terminal sent. Acknowledged
       Dec 21 10:00.
    4. Dec 22 18:00, total projected 95%, warning: spent $86.50, projected $118.20
       of $110.00 (107.45% → 107%). terminal and toast sent; desktop failed once
       two days ago, so the next refresh retries it. Active.
    5. Dec 24 09:12, claude_code 75% used, warning, covered by 6: stored, sent
       nowhere. Active.
    6. Dec 24 09:12, claude_code 90% used, critical: $45.20 of $50.00 (90.4% →
       90%). toast and desktop sent; email failed once, today: retried. Active.

    Active: 6, 5, 4, 1; acknowledged: 3; cleared: 2.
    """
    spike = store.save_alerts(
        [
            _draft(
                "spike",
                "aws_focus",
                "warning",
                "QOINs Alert: Unusual Spending Detected",
                ("slack", "toast"),
                amount=Decimal("5.95"),
                budget=Decimal("1.10"),
                period="2026-12-15",
                message="Service: aws_focus\nSpike: $5.95 on 15 Dec "
                "(vs. $1.10 usual per day)",
            )
        ],
        [],
        _at(15, 10),
    )[0]
    store.record_delivery(spike.alert_id, "toast", error=None, at=_at(15, 10))
    for day in (15, 16, 17):
        store.record_delivery(
            spike.alert_id, "slack", error=SLACK_ERROR, at=_at(day, 9)
        )

    projected_aws = store.save_alerts(
        [
            _draft(
                "projected:100",
                "aws_focus",
                "warning",
                "QOINs Alert: Projected to Reach 100% of the aws_focus budget",
                ("terminal", "toast"),
                amount=Decimal("17.75"),
                budget=Decimal("30.00"),
                projected=Decimal("31.20"),
                threshold=Decimal(100),
            )
        ],
        [],
        _at(16, 9, 12),
    )[0]
    for channel in ("terminal", "toast"):
        store.record_delivery(
            projected_aws.alert_id, channel, error=None, at=_at(16, 9, 12)
        )
    store.save_alerts([], [projected_aws.alert_id], _at(19, 9, 12))

    renewal = store.save_alerts(
        [
            _draft(
                "renewal",
                "JetBrains",
                "info",
                "QOINs: JetBrains Renews in 7 Days",
                ("terminal",),
                amount=Decimal("289.00"),
                period="2026-12-28",
                message="Renewal: $289.00 (yearly) for JetBrains (JetBrains) on "
                "2026-12-28\nAction: cancel before then if you no longer use it",
            )
        ],
        [],
        _at(21, 9, 12),
    )[0]
    store.record_delivery(renewal.alert_id, "terminal", error=None, at=_at(21, 9, 12))
    store.acknowledge_alert(renewal.alert_id, _at(21, 10))

    projected_total = store.save_alerts(
        [
            _draft(
                "projected:95",
                "total",
                "warning",
                "QOINs Alert: Projected to Reach 95% of the budget",
                ("terminal", "toast", "desktop"),
                amount=Decimal("86.50"),
                budget=Decimal("110.00"),
                projected=Decimal("118.20"),
                threshold=Decimal(95),
            )
        ],
        [],
        _at(22, 18),
    )[0]
    for channel in ("terminal", "toast"):
        store.record_delivery(
            projected_total.alert_id, channel, error=None, at=_at(22, 18)
        )
    store.record_delivery(
        projected_total.alert_id, "desktop", error=DESKTOP_ERROR, at=_at(22, 18)
    )

    claude = store.save_alerts(
        [
            _draft(
                "actual:75",
                "claude_code",
                "warning",
                "QOINs Alert: 75% claude_code Budget Used",
                (),
                amount=Decimal("45.20"),
                budget=Decimal("50.00"),
                threshold=Decimal(75),
                covered=True,
            ),
            _draft(
                "actual:90",
                "claude_code",
                "critical",
                "QOINs URGENT: 90% claude_code Budget Used",
                ("toast", "desktop", "email"),
                amount=Decimal("45.20"),
                budget=Decimal("50.00"),
                threshold=Decimal(90),
                message="Current: $45.20 / $50.00 (90.4%)\nDays Remaining: 8\n"
                "Recommendation: keep claude_code under $0.60/day for the 8 days "
                "left (now $1.83/day)",
            ),
        ],
        [],
        _at(24, 9, 12),
    )
    [urgent] = [alert for alert in claude if not alert.covered]
    for channel in ("toast", "desktop"):
        store.record_delivery(urgent.alert_id, channel, error=None, at=_at(24, 9, 12))
    store.record_delivery(urgent.alert_id, "email", error=SMTP_ERROR, at=_at(24, 9, 12))


def alerts_app(tmp_path: Path, *, with_alerts: bool = True) -> QoinsApp:
    store = Store(tmp_path / "qoins.duckdb")
    app_data.seed_store(store)
    if with_alerts:
        seed_alerts(store)
    return QoinsApp(app_data.settings(), store, clock=app_data.frozen_clock)


def shown(app: QoinsApp) -> list[str]:
    """The alert ids the list shows, top to bottom."""
    return [row.key.value or "" for row in app.alerts_view.table.ordered_rows]


def plain(widget: Static) -> str:
    content = widget.content
    assert isinstance(content, Content)
    return content.plain


def colour_of(table: DataTable[Any], row: str, column: str) -> str:
    value = table.get_cell(row, column)
    assert isinstance(value, Text) and value.spans
    style = value.spans[0].style
    assert isinstance(style, Style) and style.color is not None
    assert style.color.triplet is not None
    return style.color.triplet.hex.upper()


# -- the list --------------------------------------------------------------------------


async def test_four_opens_the_active_alerts_newest_first(tmp_path: Path) -> None:
    app = alerts_app(tmp_path)
    async with running(app, WIDE) as pilot:
        await press(pilot, "4")
        assert app.query_one("#tabs", TabbedContent).active == "alerts"
        table = app.alerts_view.table
        assert table.has_focus
        # Active, newest first: 6 at Dec 24 09:12, 4 on Dec 22, 1 on Dec 15. 5,
        # fired with 6, is covered by it (never sent): only `all` shows it. 3 is
        # acknowledged and 2 cleared.
        assert shown(app) == ["6", "4", "1"]
        assert [str(c.label) for c in table.columns.values()] == [
            "When",
            "Severity",
            "Rule",
            "Scope",
            "Figures",
            "Delivery",
        ]
        # 45.20 of 50.00 is 90.4%; sent channels first, the failed one last, and
        # fired today, within 7 days: retried.
        assert [cell(table, "6", c) for c in ("when", "severity", "rule")] == [
            "09:12",
            "critical",
            "90% used",
        ]
        assert cell(table, "6", "scope") == "claude_code"
        assert cell(table, "6", "figures") == "$45.20 / $50.00 (90%)"
        assert cell(table, "6", "delivery") == (
            "desktop ✓ · toast ✓ · email ✗ retry on next refresh"
        )
        # 118.20 of 110.00 is 107.45% at month end; desktop failed two days ago.
        assert cell(table, "4", "when") == "Dec 22 18:00"
        assert cell(table, "4", "rule") == "projected 95%"
        assert cell(table, "4", "figures") == "$118.20 / $110.00 (107% at month end)"
        assert cell(table, "4", "delivery") == (
            "terminal ✓ · toast ✓ · desktop ✗ retry on next refresh"
        )
        # The spike's slack failed from Dec 15 on: nine days ago, past the 7 days.
        assert cell(table, "1", "figures") == "$5.95 ($1.10 usual)"
        assert cell(table, "1", "delivery") == "toast ✓ · slack ✗ gave up"

        colours = app.theme_variables
        assert colour_of(table, "6", "severity") == colours["error"].upper()
        assert colour_of(table, "4", "severity") == colours["warning"].upper()

        view = app.alerts_view
        assert plain(view.query_one("#alerts-title", Static)) == (
            "Alerts · active  / shows acknowledged · R the rules"
        )
        assert plain(view.query_one("#alerts-total", Static)).startswith(
            "3 active · 1 covered · 1 acknowledged · 1 cleared"
        )
        # The month keys and e do nothing here: alerts are every month's.
        assert footer_keys(app) == {"space", "R", "r", "slash", "question_mark", "q"}


async def test_narrow_rows_hold_two_lines_and_stay_whole(tmp_path: Path) -> None:
    app = alerts_app(tmp_path)
    async with running(app, NARROW) as pilot:
        await press(pilot, "4")
        table = app.alerts_view.table
        assert [str(c.label) for c in table.columns.values()] == [
            "When",
            "Rule",
            "Figures",
            "Delivery",
        ]
        assert cell(table, "6", "when") == "09:12\ncritical"
        assert cell(table, "4", "when") == "Dec 22\nwarning"
        assert cell(table, "6", "rule") == "90% used\nclaude_code"
        assert cell(table, "4", "figures") == "$118.20 / $110.00\n107% at month end"
        # Columns of 8 ("critical"), 13 ("projected 95%") and 17 cells, each with
        # one cell of padding a side, leave 80 − 44 − 2 = 34 for the deliveries:
        # "desktop ✓ · toast ✓" and the 29 cells of the failed email do not fit on
        # one line together, so the email takes the second.
        assert table.columns[ColumnKey("delivery")].width == 34
        assert cell(table, "6", "delivery") == (
            "desktop ✓ · toast ✓\nemail ✗ retry on next refresh"
        )
        drawn = table_lines(table)
        assert not any("…" in line for line in drawn)
        assert all(len(line) <= 80 for line in drawn)

        await press(pilot, "slash", "slash")
        assert cell(table, "5", "delivery") == (
            "not sent: covered by a higher\nthreshold"
        )


async def test_space_acknowledges_and_takes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = alerts_app(tmp_path)
    toasts = record_toasts(monkeypatch, app)
    async with running(app, WIDE) as pilot:
        await press(pilot, "4", "down")
        assert app.alerts_view.selected_alert() is not None
        assert cell(app.alerts_view.table, "4", "rule") == "projected 95%"

        await press(pilot, "space")
        [alert] = app.store.alerts(ids=[4])
        assert alert.acknowledged_at == app_data.NOW
        assert alert.state == "acknowledged"
        assert [(t.title, t.message.splitlines()[0], t.markup) for t in toasts] == [
            (
                "Alert acknowledged",
                "QOINs Alert: Projected to Reach 95% of the budget",
                False,
            )
        ]
        # It stays in view, saying so, so that space can take it back.
        table = app.alerts_view.table
        assert shown(app) == ["6", "4", "1"]
        assert cell(table, "4", "state") == "acknowledged"
        assert app.screen.active_bindings["space"].binding.action == "take_back"
        total = plain(app.alerts_view.query_one("#alerts-total", Static))
        assert total.startswith("2 active · 1 covered · 2 acknowledged · 1 cleared")

        await press(pilot, "space")
        [alert] = app.store.alerts(ids=[4])
        assert alert.acknowledged_at is None and alert.state == "active"
        assert toasts[-1].title == "Acknowledgement taken back"
        assert app.screen.active_bindings["space"].binding.action == "acknowledge"

        await press(pilot, "space", "slash")
        # Acknowledged now: 4 from the list, and 3 from the seed.
        assert shown(app) == ["4", "3"]
        assert [a.alert_id for a in app.store.alerts() if a.acknowledged_at] == [4, 3]


async def test_space_in_the_open_alert_acknowledges_it(tmp_path: Path) -> None:
    app = alerts_app(tmp_path)
    async with running(app, NARROW) as pilot:
        await press(pilot, "4", "enter")
        assert isinstance(app.screen, AlertScreen)
        await press(pilot, "space")
        assert not isinstance(app.screen, AlertScreen)
        # The newest alert, 6, is the one that was open.
        [alert] = app.store.alerts(ids=[6])
        assert alert.state == "acknowledged"

        await press(pilot, "enter", "space")
        [alert] = app.store.alerts(ids=[6])
        assert alert.state == "active"


async def test_slash_cycles_active_acknowledged_and_all(tmp_path: Path) -> None:
    app = alerts_app(tmp_path)
    async with running(app, WIDE) as pilot:
        await press(pilot, "4")
        view = app.alerts_view
        assert shown(app) == ["6", "4", "1"]

        await press(pilot, "slash")
        assert view.filter == "acknowledged"
        assert shown(app) == ["3"]
        assert plain(view.query_one("#alerts-title", Static)).startswith(
            "Alerts · acknowledged  / shows all"
        )
        # The renewal of $289.00, acknowledged Dec 21 10:00.
        assert cell(view.table, "3", "rule") == "renewal"
        assert cell(view.table, "3", "figures") == "$289.00"
        # Every row is acknowledged: no column says it again.
        assert "state" not in [c.value for c in view.table.columns]

        await press(pilot, "slash")
        assert view.filter == "all"
        assert shown(app) == ["6", "5", "4", "3", "2", "1"]
        assert cell(view.table, "3", "state") == "acknowledged"
        assert cell(view.table, "2", "state") == "cleared"
        assert cell(view.table, "6", "state") == ""
        # The covered alert shows here, saying why it was not sent.
        assert cell(view.table, "5", "state") == ""
        assert cell(view.table, "5", "delivery") == (
            "not sent: covered by a higher threshold"
        )
        # aws_focus's projection: 31.20 of 30.00 = 104%.
        assert cell(view.table, "2", "figures") == "$31.20 / $30.00 (104% at month end)"

        await press(pilot, "slash")
        assert view.filter == "active"
        assert shown(app) == ["6", "4", "1"]


async def test_enter_shows_the_message_and_each_delivery(tmp_path: Path) -> None:
    app = alerts_app(tmp_path)
    async with running(app, NARROW) as pilot:
        await press(pilot, "4", "enter")
        screen = app.screen
        assert isinstance(screen, AlertScreen)
        lines = [
            line.rstrip()
            for line in screen.query_one(AlertDetail).render().plain.splitlines()
        ]
        assert lines[0] == "QOINs URGENT: 90% claude_code Budget Used"
        assert lines[1].startswith("critical · 90% used · claude_code · fired 09:12")
        assert "Current: $45.20 / $50.00 (90.4%)" in lines
        text = " ".join(" ".join(lines).split())
        assert "desktop sent 09:12" in text
        assert "email failed once, last 09:12 · retry on next refresh" in text
        assert SMTP_ERROR in text

        await press(pilot, "escape")
        assert not isinstance(app.screen, AlertScreen)
        await press(pilot, "down", "down", "down", "enter")
        screen = app.screen
        assert isinstance(screen, AlertScreen)
        text = " ".join(screen.query_one(AlertDetail).render().plain.split())
        # Three attempts, the last on Dec 17 09:00; fired Dec 15, so no more.
        assert (
            "slack failed 3 times, last Dec 17 09:00 · gave up 7 days after it" in text
        )
        assert SLACK_ERROR in text
        await press(pilot, "enter")
        assert not isinstance(app.screen, AlertScreen)


async def test_a_wide_tall_screen_shows_the_selected_alert(tmp_path: Path) -> None:
    app = alerts_app(tmp_path)
    async with running(app, WIDE) as pilot:
        await press(pilot, "4")
        detail = app.alerts_view.query_one("#alert-detail-text", AlertDetail)
        assert detail.render().plain.startswith(
            "QOINs URGENT: 90% claude_code Budget Used"
        )
        # The acknowledged list has only 3; all keeps it selected: two up is 5.
        await press(pilot, "slash", "slash", "up", "up")
        text = " ".join(detail.render().plain.split())
        assert text.startswith("QOINs Alert: 75% claude_code Budget Used")
        assert "Not sent: a higher threshold of the same budget was crossed" in text


# -- the rules -------------------------------------------------------------------------


async def test_capital_r_shows_the_rules_and_goes_back(tmp_path: Path) -> None:
    app = alerts_app(tmp_path)
    async with running(app, WIDE) as pilot:
        await press(pilot, "4", "R")
        view = app.alerts_view
        rules = view.rules_table
        assert view.showing_rules and rules.has_focus
        assert not view.table.display
        rows = [row_text(rules, row.key) for row in rules.ordered_rows]
        # The config's three default thresholds, 75, 90 and 95, each spent and
        # projected, for the total ($110.00), claude_code ($50.00) and aws_focus
        # ($30.00): 18 rows; then spikes, and renewals as there are subscriptions.
        assert len(rows) == 20
        assert [row[0] for row in rows].count("total") == 6
        assert [row[0] for row in rows].count("claude_code") == 6
        assert [row[0] for row in rows].count("aws_focus") == 6
        assert rows[0][:2] == ["total", "75% used"]
        assert "75% of $110.00" in rows[0][2]
        assert rows[1][:2] == ["total", "projected 75%"]
        assert "75% of $50.00" in rows[6][2]
        assert rows[0][3] == "terminal, toast"
        assert [row[1] for row in rows[-2:]] == ["spike", "renewal"]
        assert footer_keys(app) == {"escape", "r", "question_mark", "q"}

        await press(pilot, "R")
        assert not view.showing_rules and view.table.has_focus
        await press(pilot, "R", "escape")
        assert not view.showing_rules
        assert shown(app) == ["6", "4", "1"]


async def test_the_last_rule_scrolls_clear_of_the_count(tmp_path: Path) -> None:
    app = alerts_app(tmp_path)
    async with running(app, NARROW) as pilot:
        await press(pilot, "4", "R")
        rules = app.alerts_view.rules_table
        total = app.alerts_view.query_one("#alerts-total", Static)
        # Twenty rules of two lines and more do not fit in 24 rows: the table ends
        # where the count below it starts, so its last line can be scrolled to.
        assert rules.max_scroll_y > 0
        assert rules.region.bottom <= total.region.y


# -- empty states and reloading --------------------------------------------------------


async def test_no_alerts_says_what_fires_them(tmp_path: Path) -> None:
    app = alerts_app(tmp_path, with_alerts=False)
    async with running(app, NARROW) as pilot:
        await press(pilot, "4")
        empty = app.alerts_view.query_one("#alerts-empty", Static)
        assert empty.display and not app.alerts_view.table.display
        text = plain(empty)
        assert text.startswith("No alerts yet.")
        for words in ("threshold", "spikes", "renews", "qoins --refresh or r"):
            assert words in text
        assert footer_keys(app) == {"R", "r", "question_mark", "q"}


async def test_an_empty_filter_says_so(tmp_path: Path) -> None:
    app = alerts_app(tmp_path)
    async with running(app, NARROW) as pilot:
        # Take back the one acknowledgement, then look at the acknowledged ones.
        await press(pilot, "4", "slash", "space", "slash", "slash", "slash")
        assert app.alerts_view.filter == "acknowledged"
        assert shown(app) == []
        assert plain(app.alerts_view.query_one("#alerts-empty", Static)) == (
            "No acknowledged alerts. / shows all."
        )


async def test_the_list_follows_every_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = alerts_app(tmp_path, with_alerts=False)

    def refresh(settings: Settings, store: Store, **_: object) -> list[SourceResult]:
        """What a refresh that finds the total at 90% stores."""
        store.save_alerts(
            [
                _draft(
                    "actual:90",
                    "total",
                    "critical",
                    "QOINs URGENT: 90% Budget Used",
                    ("terminal", "toast"),
                    amount=Decimal("99.00"),
                    budget=Decimal("110.00"),
                )
            ],
            [],
            app_data.NOW,
        )
        return []

    monkeypatch.setattr(qoins_tui.app, "run_refresh", refresh)
    # The rules would judge the seeded month too; this test is about the list.
    monkeypatch.setattr(qoins_tui.app, "check_alerts", lambda *_, **__: AlertRun())
    async with running(app, NARROW) as pilot:
        await press(pilot, "4", "r")
        assert shown(app) == ["1"]
        # 99.00 of 110.00 = 90%.
        assert cell(app.alerts_view.table, "1", "figures") == "$99.00 / $110.00\n90%"

        # A month changed on another tab reads the alerts again too.
        seed_alerts(app.store)
        await press(pilot, "1", "left_square_bracket", "4")
        # 1 from the refresh, and the seed's three active ones that are not covered.
        assert len(shown(app)) == 4


# -- the pieces ------------------------------------------------------------------------


def _record(**fields: Any) -> AlertRecord:
    base: dict[str, Any] = {
        "alert_id": 1,
        "rule": "actual:90",
        "kind": "actual",
        "scope": "total",
        "period": "2026-12",
        "severity": "critical",
        "fired_at": _at(17, 9, 30),
        "title": "t",
        "message": "m",
        "currency": "USD",
        "amount": None,
        "budget": None,
        "projected": None,
        "threshold": None,
        "covered": False,
        "cleared_at": None,
        "acknowledged_at": None,
    }
    return AlertRecord(**(base | fields))


def test_a_cleared_alert_says_why_it_cleared() -> None:
    cleared = _at(19, 9, 12)

    def state_line(**fields: Any) -> str:
        alert = _record(cleared_at=cleared, **fields)
        lines = detail_lines(alert, _at(24, 9, 30), dt.date(2026, 12, 24), dt.UTC, 200)
        return lines[2].plain

    assert state_line() == "Cleared Dec 19 09:12: its condition no longer holds."
    assert state_line(kind="projected", rule="projected:90") == (
        "Cleared Dec 19 09:12: the projection fell back, or the spend itself reached "
        "the threshold and its own alert took over."
    )


def test_rules_read_as_words() -> None:
    assert rule_words(_record(rule="actual:90")) == "90% used"
    assert rule_words(_record(rule="projected:87.5", kind="projected")) == (
        "projected 87.5%"
    )
    assert rule_words(_record(rule="daily:75", kind="daily")) == "daily 75%"
    assert rule_words(_record(rule="ending", kind="ending")) == "ending"


def test_figures_of_each_kind() -> None:
    # 1,234.5 of 1,000 = 123.45% → 123%, in euros.
    assert figures(
        _record(amount=Decimal("1234.5"), budget=Decimal(1000), currency="EUR")
    ) == ("€1,234.50 / €1,000.00", "123%")
    # A budget of 0 has no share to show.
    assert figures(_record(amount=Decimal(3), budget=Decimal(0))) == ("$3.00", "")
    assert figures(_record(kind="spike", amount=Decimal("9.5"), budget=Decimal(0))) == (
        "$9.50",
        "$0.00 usual",
    )
    assert figures(_record(kind="renewal")) == ("—", "")


def test_a_failed_delivery_is_retried_for_seven_days() -> None:
    alert = _record()  # fired Dec 17 09:30
    assert retries(alert, _at(24, 9, 30))  # 7 days to the second
    assert not retries(alert, _at(24, 9, 31))
    failed = replace(
        alert, deliveries=(Delivery("email", "failed", 2, _at(18, 9), "refused"),)
    )
    [item] = delivery_items(failed, _at(24, 9, 31))
    assert [text for text, _ in item] == ["email ✗", "gave", "up"]


def test_pack_keeps_items_whole_where_they_fit() -> None:
    items = [[("aaaa", "")], [("bb", ""), ("cc", "")], [("d" * 12, "")]]

    def lines(width: int) -> list[str]:
        return ["".join(text for text, _ in line) for line in pack(items, width)]

    # "aaaa · bb cc" is 12 cells; the 12 d's start a line of their own.
    assert lines(12) == ["aaaa · bb cc", "dddddddddddd"]
    # At 10 "bb cc" moves down whole; at 4 it breaks between its words; a word
    # wider than the line ends in "…".
    assert lines(10) == ["aaaa", "bb cc", "dddddddddd"[:9] + "…"]
    assert lines(4) == ["aaaa", "bb", "cc", "ddd…"]
