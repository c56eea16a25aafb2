"""Issue 4's whole path: a budget set from the shell, then cron runs of
``qoins --refresh`` cross 75 % and then 90 %, and every configured channel hears of
each crossing exactly once: the terminal, a real notification daemon, a local SMTP
server and a local webhook."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from qoins_tui.cli import main
from qoins_tui.store import Store
from tests.conftest import require_service
from tests.test_notify import (  # noqa: F401  (pytest fixtures by name)
    Mailbox,
    Webhooks,
    dunst,
    dunst_history,
    mailbox,
    webhooks,
)

HEADER = (
    "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ServiceName,"
    "ProviderName\n"
)


def export(path: Path, day: dt.date, amount: str) -> None:
    start = f"{day.isoformat()}T00:00:00Z"
    end = f"{(day + dt.timedelta(days=1)).isoformat()}T00:00:00Z"
    path.write_text(HEADER + f"{amount},USD,{start},{end},Compute,ExampleCloud\n")


def test_crossing_75_then_90_notifies_each_channel_once_per_crossing(
    tmp_path: Path,
    mailbox: Mailbox,  # noqa: F811
    webhooks: Webhooks,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    why = dunst()
    require_service("dunst, a notification daemon on D-Bus", why is None, why or "")
    exports = tmp_path / "exports"
    exports.mkdir()
    channels = "[terminal, desktop, mail, hook]"
    config = tmp_path / "config.yml"
    config.write_text(
        "budget:\n"
        "  currency: USD\n"
        "  timezone: UTC\n"
        "  alerts:\n"
        f"    - {{threshold: 75, channels: {channels}, projected: false}}\n"
        f"    - {{threshold: 90, channels: {channels}, projected: false}}\n"
        "notifications:\n"
        "  mail:\n"
        f"    smtp_server: 127.0.0.1\n    port: {mailbox.port}\n    secure: none\n"
        "    from: qoins@example.com\n    to: me@example.com\n"
        "  hook:\n"
        f'    url: "json://127.0.0.1:{webhooks.port}/qoins"\n'
        "services:\n"
        f'  cloud: {{type: focus, paths: ["{exports.as_posix()}/*.csv"]}}\n'
    )
    db = tmp_path / "store.duckdb"

    def qoins(*args: str) -> int:
        return main(["--config", str(config), "--db", str(db), *args])

    today = dt.datetime.now(dt.UTC).date()
    assert qoins("budget", "set", "total", "110") == 0
    # $82.50 of $110.00 is 75 % exactly.
    export(exports / "first.csv", today, "82.50")
    assert qoins("--refresh") == 0
    first = capsys.readouterr().err
    assert qoins("--refresh") == 0
    unchanged = capsys.readouterr().err
    # $82.50 + $17.50 = $100.00 of $110.00 is 90.9 %.
    export(exports / "second.csv", today, "17.50")
    assert qoins("--refresh") == 0
    second = capsys.readouterr().err

    seventy_five = "QOINs Alert: 75% Budget Used"
    ninety = "QOINs URGENT: 90% Budget Used"
    assert f"alert: {seventy_five}\n  Current: $82.50 / $110.00 (75%)\n" in first
    assert "alert:" not in unchanged
    assert f"alert: {ninety}\n  Current: $100.00 / $110.00 (91%)\n" in second
    assert seventy_five not in second

    mails = [mailbox.message(i) for i in range(len(mailbox.messages))]
    assert [m["Subject"] for m in mails] == [seventy_five, ninety]
    assert mails[1].get_content().splitlines()[0] == "Current: $100.00 / $110.00 (91%)"
    assert [(r.path, r.payload["title"]) for r in webhooks.requests] == [
        ("/qoins", seventy_five),
        ("/qoins", ninety),
    ]
    assert webhooks.requests[0].payload["message"].splitlines()[0] == (
        "Current: $82.50 / $110.00 (75%)"
    )
    assert dunst_history(ninety)["body"].splitlines()[0] == (
        "Current: $100.00 / $110.00 (91%)"
    )
    delivered = {
        (a.rule, d.channel): (d.status, d.attempts)
        for a in Store(db).alerts()
        for d in a.deliveries
    }
    assert delivered == {
        (rule, channel): ("sent", 1)
        for rule in ("actual:75", "actual:90")
        for channel in ("desktop", "hook", "mail", "terminal")
    }


def test_a_channel_that_fails_is_reported_and_retried_on_the_next_refresh(
    tmp_path: Path,
    webhooks: Webhooks,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    config = tmp_path / "config.yml"
    config.write_text(
        "budget:\n  monthly_limit: 100\n  timezone: UTC\n"
        "  alerts: [{threshold: 50, channels: [terminal, hook], projected: false}]\n"
        f'notifications:\n  hook: {{url: "json://127.0.0.1:{webhooks.port}/q"}}\n'
        f'services:\n  cloud: {{type: focus, paths: ["{exports.as_posix()}/*.csv"]}}\n'
    )
    db = tmp_path / "store.duckdb"
    export(exports / "a.csv", dt.datetime.now(dt.UTC).date(), "60.00")
    webhooks.status = 503

    failed = main(["--config", str(config), "--db", str(db), "--refresh"])
    failed_err = capsys.readouterr().err
    webhooks.status = 200
    retried = main(["--config", str(config), "--db", str(db), "--refresh"])
    retried_err = capsys.readouterr().err

    # A failed delivery is not a failed source: the refresh still exits 0.
    assert failed == 0 and retried == 0
    assert (
        "alert: delivery of 'QOINs Alert: 50% Budget Used' failed: hook:" in failed_err
    )
    assert "(tried again on the next refresh)" in failed_err
    assert "alert:" not in retried_err
    assert [r.payload["title"] for r in webhooks.requests] == [
        "QOINs Alert: 50% Budget Used",
        "QOINs Alert: 50% Budget Used",
    ]
    (alert,) = Store(db).alerts()
    hook = next(d for d in alert.deliveries if d.channel == "hook")
    assert (hook.status, hook.attempts, hook.error) == ("sent", 2, None)
