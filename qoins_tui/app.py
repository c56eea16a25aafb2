"""The QOINs Textual app: the header, the Dashboard, Services and Alerts tabs, and
the keys.

The app paints from the store at once and never waits for a refresh: reading the
month, reading the alerts, refreshing the sources, reading a source's details and
acknowledging an alert each run in a thread worker that posts a message back.
Every worker failure goes through one handler,
:meth:`QoinsApp.on_worker_state_changed`, which turns it into one toast (or, for a
store another process holds, into "store busy (PID 1234) since HH:MM" and a retry).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.content import Content
from textual.logging import TextualHandler
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import var
from textual.screen import Screen
from textual.theme import ThemeProvider
from textual.timer import Timer
from textual.widgets import Footer, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

import qoins_tui
from qoins_tui.alerts import AlertRun, check_alerts
from qoins_tui.alerts_tab import (
    AcknowledgeAlert,
    AlertScreen,
    AlertsLoaded,
    AlertsView,
)
from qoins_tui.analysis import Month
from qoins_tui.budget_entry import BudgetEntryScreen, SavedBudget, amount_text
from qoins_tui.budgets import TOTAL, source_scopes
from qoins_tui.config import Settings, load_file
from qoins_tui.dashboard import DashboardView
from qoins_tui.discovery import Finding, findings, has_user_data
from qoins_tui.errors import ConfigError, QoinsError, StoreBusyError
from qoins_tui.fx import RatesResult
from qoins_tui.keys import source_secret_keys
from qoins_tui.notify import deliver
from qoins_tui.refresh import Progress, SourceResult, planned_sources, run_refresh
from qoins_tui.services import (
    DetailsLoaded,
    OpenSource,
    ServicesView,
    SourceScreen,
)
from qoins_tui.store import Store
from qoins_tui.summary import MonthSummary, build_summary, local_today, source_details
from qoins_tui.theme import choose_theme, load_themes
from qoins_tui.widgets import HeaderState, KeysScreen, QoinsHeader, format_when

logger = logging.getLogger(__name__)

READ_WAIT_S = 2.0
"""How long a read waits for another process's lock before the app says "busy"."""
BUSY_RETRY_S = 5.0
"""How soon the app reads again after finding the store busy."""
TOAST_S = 12.0
ALERT_TOAST_S = 30.0
"""An alert's toast stays long enough to read its figures and suggestion."""
APP_CHANNELS = ("toast", "terminal")
"""The channels the app shows itself: a toast, in the terminal it runs in."""
"""Errors stay a little longer than Textual's default so they can be read."""

MONTH_KEYS = Binding.Group("Month")
"""[ ] and . share one place in the footer."""
MONTH_ACTIONS = ("previous_month", "next_month", "current_month")

NOTHING_TO_REFRESH = (
    "QOINs found no source to read: no services in config.yml and no Claude Code "
    "or Codex logs in their usual folders. Add a line under services: in "
    "config.yml, or bring in a cost export with qoins import FILE."
)

_LOCK_PID = re.compile(r"\(PID (\d+)\)")
"""DuckDB names the process that holds the store's lock: "… (PID 1234) …"."""

LOAD, REFRESH, DETAILS = "load", "refresh", "details"
ALERTS, ACKNOWLEDGE = "alerts", "acknowledge"
_FAILURE_TITLES = {
    LOAD: "Could not read the store",
    REFRESH: "Refresh stopped",
    DETAILS: "Could not read the source",
    ALERTS: "Could not read the alerts",
    ACKNOWLEDGE: "Could not change the alert",
}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SummaryLoaded(Message, bubble=False):
    """A month read from the store; ``ticket`` tells a stale read from the latest."""

    def __init__(
        self,
        summary: MonthSummary,
        has_data: bool,
        found: list[Finding],
        ticket: int,
    ) -> None:
        super().__init__()
        self.summary = summary
        self.has_data = has_data
        self.found = found
        self.ticket = ticket


class AlertChanged(Message, bubble=False):
    """An alert's acknowledgement was written (or taken back)."""

    def __init__(self, title: str, acknowledged: bool) -> None:
        super().__init__()
        self.title = title
        self.acknowledged = acknowledged


class RefreshProgress(Message, bubble=False):
    """The refresh is about to read a source; a newer one replaces a queued one."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RefreshProgress)


class RefreshFinished(Message, bubble=False):
    """Every planned source has been read; ``results`` says how each went,
    ``rates`` how the exchange rates' fetch went (None when none was needed),
    ``alerts`` what the alert check after it raised and delivered, or
    ``alerts_error`` why the check could not run."""

    def __init__(
        self,
        results: list[SourceResult],
        rates: RatesResult | None = None,
        alerts: AlertRun | None = None,
        alerts_error: str | None = None,
    ) -> None:
        super().__init__()
        self.results = results
        self.rates = rates
        self.alerts = alerts
        self.alerts_error = alerts_error


def lock_holder(error: StoreBusyError) -> str | None:
    """``PID 1234`` when the busy store's message names the process holding it."""
    match = _LOCK_PID.search(error.message)
    return f"PID {match.group(1)}" if match else None


class QoinsThemes(ThemeProvider):
    """The palette's theme choice: QOINs' own themes, not every Textual one."""

    @property
    def commands(self) -> list[tuple[str, Callable[[], None]]]:
        names = getattr(self.app, "qoins_themes", ())
        return [
            (name, partial(setattr, self.app, "theme", name)) for name in sorted(names)
        ]


def failure_toast(results: Sequence[SourceResult]) -> tuple[str, str] | None:
    """(title, message) naming each failed source and why, or None when all worked."""
    failed = [r for r in results if not r.ok]
    if not failed:
        return None
    noun = "source" if len(failed) == 1 else "sources"
    title = f"Refresh: {len(failed)} {noun} failed"
    lines = [f"{r.source}: {r.error}" for r in failed]
    lines.append("Other sources refreshed; fix the cause, then press r.")
    return title, "\n".join(lines)


class QoinsApp(App[None]):
    """QOINs in the terminal: where the month's development money goes."""

    TITLE = "QOINs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "1",
            "show_tab('dashboard')",
            "Dashboard",
            show=False,
            tooltip="Dashboard: budget, forecast, top services",
        ),
        Binding(
            "2",
            "show_tab('services')",
            "Services",
            show=False,
            tooltip="Services: every source with its status",
        ),
        Binding(
            "4",
            "show_tab('alerts')",
            "Alerts",
            show=False,
            tooltip="Alerts: what fired, where it went; the rules",
        ),
        Binding(
            "r",
            "refresh",
            "Refresh",
            tooltip="Read every source again, in the background",
        ),
        Binding(
            "left_square_bracket",
            "previous_month",
            "Previous month",
            key_display="[",
            group=MONTH_KEYS,
            tooltip="Show the month before",
        ),
        Binding(
            "right_square_bracket",
            "next_month",
            "Next month",
            key_display="]",
            group=MONTH_KEYS,
            tooltip="Show the month after, up to this one",
        ),
        Binding(
            "full_stop",
            "current_month",
            "This month",
            key_display=".",
            group=MONTH_KEYS,
            tooltip="Back to the current month",
        ),
        Binding(
            "e",
            "edit_budget",
            "Edit budget",
            tooltip="Edit the budget: the total, or the selected source's",
        ),
        # For a row without a budget of its own (an imported file), e says so.
        Binding("e", "no_budget", show=False),
        Binding(
            "slash",
            "filter",
            "Filter",
            key_display="/",
            tooltip="Filter the list: sources by name, alerts by state",
        ),
        Binding(
            "question_mark",
            "help",
            "Help",
            key_display="?",
            tooltip="This list of keys",
        ),
        Binding("q", "quit", "Quit", tooltip="Leave QOINs"),
    ]

    header_state: var[HeaderState | None] = var(None)

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        demo: bool = False,
        config_error: str | None = None,
        refresh_on_start: bool = False,
    ) -> None:
        super().__init__(
            css_path=["dashboard.tcss", "services.tcss", "alerts_tab.tcss"]
        )
        self.settings = settings
        self.store = store
        self.clock = clock or _utc_now
        self.demo = demo
        self.config_error = config_error
        self.refresh_on_start = refresh_on_start
        """Refresh once the first read shows a source never refreshed or stale."""
        self.reader = Store(store.path, wait_s=min(store.wait_s, READ_WAIT_S))
        self.summary: MonthSummary | None = None
        self.has_data = True
        self.month = self.current_month
        self.busy_since: dt.datetime | None = None
        self.busy_holder: str | None = None
        self.progress: Progress | None = None
        self._ticket = 0
        self._alerts_ticket = 0
        self._retry: Timer | None = None
        self._log_handler = TextualHandler(stderr=False)
        loaded = load_themes()
        for theme in loaded.themes:
            self.register_theme(theme)
        self.qoins_themes = tuple(theme.name for theme in loaded.themes)
        """The themes in ``themes/``: the only ones QOINs offers."""
        self._theme_problems = list(loaded.problems)
        self._theme_name, problem = choose_theme(settings.theme, self.qoins_themes)
        if problem is not None:
            self._theme_problems.append(problem)
        self.dashboard = DashboardView(id="dashboard-view")
        self.services = ServicesView(
            id="services-view",
            secret_keys=lambda name: source_secret_keys(self.settings, name),
        )
        self.alerts_view = AlertsView(
            id="alerts-view",
            settings=lambda: self.settings,
            clock=lambda: self.clock(),
        )

    # -- layout and start-up -------------------------------------------------------

    @property
    def current_month(self) -> Month:
        return Month.of(local_today(self.settings, self.clock()))

    def compose(self) -> ComposeResult:
        yield QoinsHeader()
        with TabbedContent(initial="dashboard", id="tabs"):
            with TabPane("1 Dashboard", id="dashboard"):
                yield self.dashboard
            with TabPane("2 Services", id="services"):
                yield self.services
            with TabPane("4 Alerts", id="alerts"):
                yield self.alerts_view
        yield Footer()

    def on_mount(self) -> None:
        logging.getLogger().addHandler(self._log_handler)
        # httpx logs every request's full URL at INFO; keys can ride in URLs.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self.theme = self._theme_name
        if self.config_error:
            self.notify(
                f"{self.config_error}\nQOINs shows the store but does not "
                "refresh until the file is fixed.",
                title="Configuration error",
                severity="error",
                timeout=TOAST_S,
                markup=False,
            )
        for problem in self._theme_problems:
            self.notify(problem, title="Theme", severity="warning", markup=False)
        self._update_header()
        self.reload()

    def on_ready(self) -> None:
        elapsed_ms = (time.perf_counter() - qoins_tui.STARTED_AT) * 1000
        logger.info("QOINs started in %.0f ms", elapsed_ms)

    def on_unmount(self) -> None:
        logging.getLogger().removeHandler(self._log_handler)

    # -- reading the store ---------------------------------------------------------

    def reload(self) -> None:
        """Read the month on view and the alerts again, in the background."""
        self._ticket += 1
        self._alerts_ticket += 1
        self._load(
            self.month, self._ticket, self._alerts_ticket, contextvars.copy_context()
        )

    def reload_alerts(self) -> None:
        """Read the alerts again, in the background."""
        self._alerts_ticket += 1
        self._load_alerts(self._alerts_ticket, contextvars.copy_context())

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group=ALERTS,
        description="Reading the alerts from the store",
    )
    def _load_alerts(self, ticket: int, context: contextvars.Context) -> None:
        alerts = context.run(self.reader.alerts)
        if not get_current_worker().is_cancelled:
            self.post_message(AlertsLoaded(alerts, ticket))

    def on_alerts_loaded(self, message: AlertsLoaded) -> None:
        if message.ticket == self._alerts_ticket:
            self.alerts_view.show(message.alerts)
            self.refresh_bindings()

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group=LOAD,
        description="Reading the month from the store",
    )
    def _load(
        self,
        month: Month,
        ticket: int,
        alerts_ticket: int,
        context: contextvars.Context,
    ) -> None:
        """The month, then the alerts: one after the other, so that two threads
        never open (and on the first start, create) the store at once."""
        now = self.clock()

        def read() -> SummaryLoaded:
            has_data = self.demo or has_user_data(self.settings, self.reader)
            found = [] if has_data else findings(self.settings)
            summary = build_summary(self.reader, self.settings, month, now)
            return SummaryLoaded(summary, has_data, found, ticket)

        loaded = context.run(read)
        if get_current_worker().is_cancelled:
            return
        self.post_message(loaded)
        alerts = context.run(self.reader.alerts)
        if not get_current_worker().is_cancelled:
            self.post_message(AlertsLoaded(alerts, alerts_ticket))

    def _read_again(self) -> None:
        """The busy store's retry: one timer at a time, however many reads failed."""
        self._retry = None
        self.reload()

    def on_summary_loaded(self, message: SummaryLoaded) -> None:
        if message.ticket != self._ticket:
            return
        self.summary = message.summary
        self.has_data = message.has_data
        self.busy_since = None
        self.busy_holder = None
        zone = self.settings.budget.zone
        if message.has_data:
            self.dashboard.show(message.summary)
        else:
            self.dashboard.show_welcome(message.found)
        self.services.show(message.summary, zone)
        if isinstance(self.screen, SourceScreen):
            self._follow_source(self.screen, message.summary)
        self._update_header()
        self.refresh_bindings()
        if self.refresh_on_start:
            self.refresh_on_start = False
            behind = any(
                r.status in ("never", "stale") for r in message.summary.sources
            )
            if behind and message.has_data and not self.config_error:
                self.action_refresh()

    def _follow_source(self, screen: SourceScreen, summary: MonthSummary) -> None:
        row = next((r for r in summary.sources if r.name == screen.source), None)
        if row is None:
            return
        screen.show(row, summary)
        self._load_details(screen, row.name, summary.month, contextvars.copy_context())

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group=DETAILS,
        description="Reading a source's services",
    )
    def _load_details(
        self,
        screen: SourceScreen,
        source: str,
        month: Month,
        context: contextvars.Context,
    ) -> None:
        lines = context.run(source_details, self.reader, self.settings, month, source)
        screen.post_message(DetailsLoaded(source, month, lines))

    # -- refreshing ------------------------------------------------------------------

    @property
    def is_refreshing(self) -> bool:
        return any(
            w.group == REFRESH and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
            for w in self.workers
        )

    def action_refresh(self) -> None:
        if self.is_refreshing:
            self.notify("A refresh is already running.", title="Refresh")
            return
        if self.config_error:
            # Refreshing on the defaults would rewrite what the broken file
            # configures (a source's billing mode, for one).
            self.notify(
                f"{self.config_error}\nFix config.yml, then restart QOINs to refresh.",
                title="Refresh needs a valid config",
                severity="error",
                timeout=TOAST_S,
                markup=False,
            )
            return
        if not self._read_config_again():
            return
        if not planned_sources(self.settings):
            self.notify(
                NOTHING_TO_REFRESH,
                title="Nothing to refresh",
                timeout=TOAST_S,
                markup=False,
            )
            return
        self.progress = Progress(0, 0, None)
        self._update_header()
        self._refresh(contextvars.copy_context())

    def _read_config_again(self) -> bool:
        """Take up what changed in config.yml since it was read (a budget set from
        the shell, a new subscription), so a refresh never runs on an old copy; a
        file that is now broken stops the refresh with a toast."""
        path = self.settings.path
        if path is None or self.demo:
            return True
        try:
            settings = load_file(path)
        except ConfigError as exc:
            self.notify(
                f"{exc.message}\nFix config.yml, then refresh again.",
                title="Refresh needs a valid config",
                severity="error",
                timeout=TOAST_S,
                markup=False,
            )
            return False
        if settings != self.settings:
            self.settings = settings
            self.reload()
        return True

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group=REFRESH,
        description="Refreshing every source",
    )
    def _refresh(self, context: contextvars.Context) -> None:
        """Refresh, then judge the alert rules on what arrived and deliver the new
        alerts: the toasts here, every other channel through notify (nothing but the
        toasts in the demo)."""
        rates: list[RatesResult] = []
        results = context.run(
            run_refresh,
            self.settings,
            self.store,
            now=self.clock(),
            progress=self._post_progress,
            on_rates=rates.append,
        )
        finished = RefreshFinished(results, rates[-1] if rates else None)
        try:
            finished.alerts = context.run(
                check_alerts,
                self.settings,
                self.store,
                now=self.clock(),
                front=APP_CHANNELS,
                send=None if self.demo else deliver,
            )
        except QoinsError as exc:
            finished.alerts_error = exc.message
        self.post_message(finished)

    def _post_progress(self, progress: Progress) -> None:
        """Called from the refresh thread: hand the step to the app's message queue."""
        self.post_message(RefreshProgress(progress))

    def on_refresh_progress(self, message: RefreshProgress) -> None:
        if self.progress is not None:
            self.progress = message.progress
            self._update_header()

    def on_refresh_finished(self, message: RefreshFinished) -> None:
        self.progress = None
        toast = failure_toast(message.results)
        if toast is not None:
            title, text = toast
            self.notify(
                text, title=title, severity="error", timeout=TOAST_S, markup=False
            )
        if message.rates is not None and not message.rates.ok:
            self.notify(
                f"{message.rates.detail}\nThe rates stored before stay in use.",
                title="Exchange rates not updated",
                severity="warning",
                timeout=TOAST_S,
                markup=False,
            )
        if message.alerts_error is not None:
            self.notify(
                message.alerts_error,
                title="Could not check the alerts",
                severity="error",
                timeout=TOAST_S,
                markup=False,
            )
        if message.alerts is not None:
            self._toast_alerts(message.alerts)
        self._update_header()
        self.reload()

    def _toast_alerts(self, run: AlertRun) -> None:
        """A toast with the alert's message, or for several one that lists them (a
        toast each would not fit a small terminal); then one for the deliveries that
        failed. An alert acknowledged or cleared before its toast came (one a cron
        refresh raised) is not toasted."""
        shown = [a for a in run.shown if a.state == "active"]
        urgent = any(a.severity == "critical" for a in shown)
        severity: SeverityLevel = "error" if urgent else "warning"
        if len(shown) == 1:
            (alert,) = shown
            self.notify(
                alert.message,
                title=alert.title,
                severity=severity,
                timeout=ALERT_TOAST_S,
                markup=False,
            )
        elif shown:
            lines = [alert.title for alert in shown]
            lines.append("4 shows them on the Alerts tab.")
            self.notify(
                "\n".join(lines),
                title=f"QOINs: {len(shown)} new alerts",
                severity=severity,
                timeout=ALERT_TOAST_S,
                markup=False,
            )
        if run.failures:
            lines = [f"{a.alert.title}: {a.error}" for a in run.failures]
            lines.append("Tried again on the next refresh; the Alerts tab shows them.")
            self.notify(
                "\n".join(lines),
                title="Alert delivery failed",
                severity="error",
                timeout=TOAST_S,
                markup=False,
            )

    # -- acknowledging an alert ----------------------------------------------------

    def on_acknowledge_alert(self, message: AcknowledgeAlert) -> None:
        self._acknowledge(
            message.alert.alert_id,
            message.alert.title,
            message.acknowledged,
            contextvars.copy_context(),
        )

    @work(
        thread=True,
        exit_on_error=False,
        group=ACKNOWLEDGE,
        description="Writing an alert's acknowledgement",
    )
    def _acknowledge(
        self,
        alert_id: int,
        title: str,
        acknowledged: bool,
        context: contextvars.Context,
    ) -> None:
        at = self.clock() if acknowledged else None
        context.run(self.store.acknowledge_alert, alert_id, at)
        self.post_message(AlertChanged(title, acknowledged))

    def on_alert_changed(self, message: AlertChanged) -> None:
        if message.acknowledged:
            self.notify(
                f"{message.title}\nSpace again takes it back.",
                title="Alert acknowledged",
                markup=False,
            )
        else:
            self.notify(
                f"{message.title}\nIt is active again.",
                title="Acknowledgement taken back",
                markup=False,
            )
        self.reload_alerts()

    # -- the one funnel for worker failures ----------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        group = event.worker.group
        if group == REFRESH:
            self.progress = None
        if group in (LOAD, ALERTS) and isinstance(error, StoreBusyError):
            self.busy_since = self.busy_since or self.clock()
            self.busy_holder = lock_holder(error) or self.busy_holder
            self._update_header()
            if self._retry is None:
                self._retry = self.set_timer(BUSY_RETRY_S, self._read_again)
            return
        if isinstance(error, QoinsError):
            title, text = error.title, error.message
        else:
            logger.error("%s worker failed", group, exc_info=error)
            title = _FAILURE_TITLES.get(group, "Background task failed")
            text = f"{type(error).__name__}: {error}"
        self.notify(text, title=title, severity="error", timeout=TOAST_S, markup=False)
        self._update_header()

    # -- the header ------------------------------------------------------------------

    def _update_header(self) -> None:
        shown = self.summary.month if self.summary is not None else self.month
        self.header_state = HeaderState(
            month=shown.label,
            status=self._status(),
            progress=(
                (self.progress.done, self.progress.total)
                if self.progress is not None and self.progress.total
                else None
            ),
            demo=self.demo,
        )

    def _when(self, moment: dt.datetime) -> str:
        zone = self.settings.budget.zone
        return format_when(moment, local_today(self.settings, self.clock()), zone)

    def _status(self) -> Content:
        if self.progress is not None:
            p = self.progress
            if p.source is None:
                return Content("refreshing…")
            return Content(
                f"refreshing {p.done + 1}/{p.total} · {p.title or p.source}…"
            )
        if self.busy_since is not None:
            holder = f" ({self.busy_holder})" if self.busy_holder else ""
            return Content.styled(
                f"store busy{holder} since {self._when(self.busy_since)}", "$warning"
            )
        if self.summary is None:
            return Content.styled("reading the store…", "$text-muted")
        sources = self.summary.sources
        refreshed = [r.last_refresh for r in sources if not r.imported]
        newest = max((when for when in refreshed if when is not None), default=None)
        if newest is None:
            return Content.styled("not refreshed yet · r refreshes", "$text-muted")
        # The count is the Services tab's: imported files too, though r skips them.
        counted = f"{len(sources)} source{'s' if len(sources) != 1 else ''}"
        failed = sum(1 for r in sources if r.status == "failed")
        when = f"refreshed {self._when(newest)}"
        if failed:
            noun = "source" if failed == 1 else "sources"
            return Content.assemble(
                (f"{failed} {noun} failed", "bold $error"), f" · {when}"
            )
        return Content(f"{when} · {counted}")

    # -- months, tabs, filter, help --------------------------------------------------

    def _set_month(self, month: Month) -> None:
        if month == self.month:
            return
        self.month = month
        self._update_header()
        self.refresh_bindings()
        self.reload()

    def action_previous_month(self) -> None:
        self._set_month(self.month.previous())

    def action_next_month(self) -> None:
        if self.month < self.current_month:
            self._set_month(self.month.next())

    def action_current_month(self) -> None:
        self._set_month(self.current_month)

    def action_show_tab(self, tab: str) -> None:
        while isinstance(self.screen, SourceScreen | KeysScreen | AlertScreen):
            self.pop_screen()
        self.query_one("#tabs", TabbedContent).active = tab

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "services":
            self.services.table.focus()
        elif event.pane.id == "alerts":
            self.alerts_view.focus_list()
        self.refresh_bindings()

    @property
    def active_tab(self) -> str:
        return self.screen_stack[0].query_one("#tabs", TabbedContent).active

    def action_filter(self) -> None:
        if self.screen is not self.screen_stack[0]:
            return
        if self.active_tab == "services":
            self.services.start_filter()
        elif self.active_tab == "alerts":
            self.alerts_view.cycle_filter()

    def action_help(self) -> None:
        if not isinstance(self.screen, KeysScreen):
            self.push_screen(KeysScreen(self.key_sections()))

    def key_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Every key, grouped by where it works, for the keys screen."""

        def listed(
            bindings: Iterable[Binding | tuple[str, ...]],
        ) -> list[tuple[str, str]]:
            return [
                (b.key_display or b.key, b.tooltip or b.description)
                for b in bindings
                if isinstance(b, Binding) and (b.tooltip or b.description)
            ]

        everywhere = listed(self.BINDINGS)
        everywhere.append(("ctrl+p", "Command palette: every action and the themes"))
        return [
            ("Everywhere", everywhere),
            (
                "Services tab",
                [
                    ("↑ ↓", "Move between sources"),
                    ("enter", "Open the selected source"),
                    *listed(ServicesView.BINDINGS),
                ],
            ),
            ("A source's screen", listed(SourceScreen.BINDINGS)),
            (
                "Alerts tab",
                [
                    ("↑ ↓", "Move between alerts"),
                    ("enter", "Open the selected alert: its message and deliveries"),
                    ("/", "Show the active, the acknowledged or all alerts"),
                    *listed(AlertsView.BINDINGS),
                ],
            ),
        ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("edit_budget", "no_budget"):
            scope = self._budget_scope()
            if scope is None:
                return False
            # Demo and config error: e answers with a toast saying why not.
            editable = bool(self.demo or self.config_error) or self._has_budget(scope)
            return editable == (action == "edit_budget")
        if action == "filter":
            if self.screen is not self.screen_stack[0]:
                return False
            if self.active_tab == "alerts":
                view = self.alerts_view
                return bool(view.alerts) and not view.showing_rules
            return (
                self.active_tab == "services"
                and self.has_data
                and not self.services.has_class("-filtering")
            )
        if action in MONTH_ACTIONS and self.active_tab == "alerts":
            # The alerts are every month's: the keys would change nothing here,
            # and the footer needs the room for the tab's own keys.
            return False
        if action == "next_month" and self.month >= self.current_month:
            return None
        if action == "current_month" and self.month == self.current_month:
            return None
        return True

    # -- budgets -------------------------------------------------------------------

    def _budget_scope(self) -> str | None:
        """The scope ``e`` edits: a source's on its screen or the Services tab, the
        total on the Dashboard; None elsewhere (the Alerts tab)."""
        if isinstance(self.screen, SourceScreen):
            return self.screen.source
        if self.screen is not self.screen_stack[0]:
            return None
        if self.active_tab == "services":
            row = self.services.selected_row()
            return row.name if row is not None else None
        if self.active_tab == "alerts":
            return None
        return TOTAL

    def _has_budget(self, scope: str) -> bool:
        return scope == TOTAL or scope in source_scopes(self.settings)

    def action_edit_budget(self) -> None:
        scope = self._budget_scope()
        if scope is None:
            return
        if self.demo:
            self.notify(
                "The demo's budgets are not saved: it runs on throwaway settings. "
                "Once QOINs reads your own data (a config.yml or agent logs), set "
                "them here with e, or with qoins budget set.",
                title="Budget not changed",
                markup=False,
            )
            return
        if self.config_error:
            self.notify(
                f"{self.config_error}\nFix config.yml first: QOINs writes no budget "
                "into a config it cannot read.",
                title="Budget needs a valid config",
                severity="error",
                timeout=TOAST_S,
                markup=False,
            )
            return
        self.push_screen(
            BudgetEntryScreen(scope, self.settings, self.store, self.clock),
            self._budget_closed,
        )

    def action_no_budget(self) -> None:
        scope = self._budget_scope()
        if scope is not None:
            self.notify(
                f"{scope} has no budget of its own: budgets are set on the total and "
                "on the sources under services in config.yml.",
                title="No budget to edit",
                markup=False,
            )

    def _budget_closed(self, saved: SavedBudget | None) -> None:
        if saved is None:
            return
        update = saved.update
        old = amount_text(update.old, update.currency)
        if saved.settings is None:
            self.notify(
                f"{update.scope} is {old} already; nothing was written.",
                title="Budget not changed",
                markup=False,
            )
            return
        new = amount_text(update.new, update.currency)
        where = "created" if update.created else "written to"
        self.notify(
            f"{update.scope} {old} → {new} ({where} {update.path})",
            title="Budget saved",
            markup=False,
        )
        self.settings = saved.settings
        self.reload()

    # -- the Services tab's requests -------------------------------------------------

    def on_open_source(self, message: OpenSource) -> None:
        if self.summary is None:
            return
        screen = SourceScreen(
            message.row,
            self.summary,
            self.settings.budget.zone,
            source_secret_keys(self.settings, message.row.name),
        )
        self.push_screen(screen)
        self._load_details(
            screen, message.row.name, self.summary.month, contextvars.copy_context()
        )

    # -- the command palette -------------------------------------------------------

    def search_themes(self) -> None:
        """The palette's Theme command: a list of QOINs' themes to pick from."""
        self.push_screen(
            CommandPalette(providers=[QoinsThemes], placeholder="Search for themes…")
        )

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # Textual's "Keys" shows its own key panel; QOINs' Help lists every key.
        yield from (
            command
            for command in super().get_system_commands(screen)
            if command.title != "Keys"
        )
        yield SystemCommand("Refresh", "Read every source again", self.action_refresh)
        yield SystemCommand(
            "Previous month", "Show the month before", self.action_previous_month
        )
        yield SystemCommand(
            "Next month", "Show the month after", self.action_next_month
        )
        yield SystemCommand(
            "This month", "Back to the current month", self.action_current_month
        )
        yield SystemCommand(
            "Dashboard",
            "Budget, forecast and top services",
            partial(self.action_show_tab, "dashboard"),
        )
        yield SystemCommand(
            "Services",
            "Every source with its status and spend",
            partial(self.action_show_tab, "services"),
        )
        yield SystemCommand(
            "Alerts",
            "What fired and where it went; R shows the rules",
            partial(self.action_show_tab, "alerts"),
        )
        yield SystemCommand(
            "Edit budget",
            "The total's on the Dashboard, a source's on Services",
            self.action_edit_budget,
        )
        yield SystemCommand("Help", "Every key of the app", self.action_help)
        for name in sorted(self.qoins_themes):
            yield SystemCommand(
                f"Theme: {name}",
                f"Switch to the {name} theme",
                partial(setattr, self, "theme", name),
            )
