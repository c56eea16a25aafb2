"""``qoins alerts``: the list, ``--all``, ``--json``, ``ack`` and ``rules``, after a
``qoins --refresh`` that crosses 75 % and 90 % of the budget at once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from qoins_tui.cli import main


@pytest.fixture
def qoins(tmp_path: Path) -> Callable[..., int]:
    """``qoins --config … --db …`` with a $20.00 budget and $18.00 of subscriptions
    billed on the 1st of this month: 90 %, past the 75 % and 90 % thresholds."""
    config = tmp_path / "config.yml"
    first = dt.datetime.now(dt.UTC).date().replace(day=1)
    config.write_text(
        "budget:\n  monthly_limit: 20.00\n  currency: USD\n  timezone: UTC\n"
        "subscriptions:\n"
        f"  - {{name: Tool, provider: Vendor, amount: 18.00, start: {first}}}\n",
        encoding="utf-8",
    )
    db = tmp_path / "store.duckdb"

    def run(*args: str) -> int:
        return main(["--config", str(config), "--db", str(db), *args])

    return run


def test_the_list_names_the_alert_sent_and_the_one_covered(
    qoins: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    run = qoins
    assert run("--refresh", "-q") == 0
    err = capsys.readouterr().err
    assert "alert: QOINs URGENT: 90% Budget Used\n" in err
    assert "  Current: $18.00 / $20.00 (90%)\n" in err
    assert "75% Budget Used" not in err

    assert run("alerts") == 0
    out = capsys.readouterr().out
    heads = [line for line in out.splitlines() if line.startswith("#")]
    assert [h.split(" ", 3)[3] for h in heads] == [
        "[active] QOINs URGENT: 90% Budget Used"
    ]
    assert "    delivered: terminal sent, toast pending\n" in out

    # The 75 % alert, fired in the same refresh, was stored covered and not sent.
    assert run("alerts", "--all") == 0
    out = capsys.readouterr().out
    assert "[active] QOINs Alert: 75% Budget Used\n" in out
    assert "    not sent: covered by a higher threshold\n" in out


def test_refresh_json_carries_the_new_alerts(
    qoins: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert qoins("--refresh", "--json", "-q") == 0
    summary = json.loads(capsys.readouterr().out)
    assert [(a["rule"], a["amount"], a["budget"]) for a in summary["alerts"]] == [
        ("actual:90", 18.0, 20.0)
    ]
    assert qoins("--refresh", "--json", "-q") == 0
    assert json.loads(capsys.readouterr().out)["alerts"] == []


def test_json_ack_and_all(
    qoins: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    run = qoins
    assert run("--refresh", "-q") == 0
    capsys.readouterr()

    assert run("alerts", "--all", "--json") == 0
    alerts = json.loads(capsys.readouterr().out)
    by_rule = {a["rule"]: a for a in alerts}
    assert set(by_rule) == {"actual:75", "actual:90"}
    urgent = by_rule["actual:90"]
    assert (urgent["scope"], urgent["severity"], urgent["covered"]) == (
        "total",
        "critical",
        False,
    )
    assert (urgent["amount"], urgent["budget"]) == (18.0, 20.0)
    assert by_rule["actual:75"]["covered"] is True
    number = urgent["id"]

    assert run("alerts", "ack", str(number)) == 0
    assert capsys.readouterr().err == f"qoins: acknowledged alert #{number}.\n"
    assert run("alerts", "ack", str(number)) == 0
    assert (
        capsys.readouterr().err == f"qoins: alert #{number} is acknowledged already.\n"
    )

    assert run("alerts") == 0
    assert capsys.readouterr().err == "qoins: no active alerts.\n"
    assert run("alerts", "--all") == 0
    out = capsys.readouterr().out
    assert f"#{number} " in out
    assert "[acknowledged] QOINs URGENT: 90% Budget Used" in out

    assert run("alerts", "ack", "999") == 2
    assert "no alert numbered 999" in capsys.readouterr().err


def test_rules_list_every_threshold_with_its_channels(
    qoins: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    run = qoins
    assert run("alerts", "rules") == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        "total          90% used         the month's spend reaches 90% of $20.00 → "
        "terminal, toast"
    ) in lines
    assert [line.split()[:3] for line in lines if line.startswith("total")][:2] == [
        ["total", "75%", "used"],
        ["total", "projected", "75%"],
    ]
