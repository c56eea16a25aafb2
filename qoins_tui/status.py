"""``qoins status``, ``qoins budget`` and ``qoins alerts``: the seed's terminal box,
and the JSON of DESIGN.md's contracts."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from qoins_tui.fx import ECB
from qoins_tui.money import format_change, format_money, format_percent, format_tokens
from qoins_tui.store import AlertRecord
from qoins_tui.summary import MonthSummary, reconciliation_line

BOX_WIDTH = 51
BAR_CELLS = 12
WARN_AT = Decimal(75)


def status_object(summary: MonthSummary) -> dict[str, Any]:
    """The status contract, field for field; money stays Decimal for :func:`to_json`.

    ``rates`` is there only when ECB rates converted some of the month's charges.
    """
    status = {
        "month": str(summary.month),
        "currency": summary.currency,
        "spent": summary.spent,
        "estimated": summary.estimated,
        "budget": summary.budget,
        "remaining": summary.remaining,
        "percent": summary.percent,
        "projected": summary.forecast.projected,
        "services": [
            {
                "source": s.source,
                "provider": s.provider,
                "service": s.service,
                "spent": s.spent,
            }
            for s in summary.services
        ],
        "budgets": budget_rows(summary),
        "unpriced": {
            "tokens": summary.unpriced_tokens,
            "models": [
                {"provider": provider, "model": model, "tokens": tokens}
                for provider, model, tokens in summary.unpriced
            ],
        },
        "unconverted": [
            {"currency": currency, "amount": amount}
            for currency, amount in summary.unconverted
        ],
        "reconciliation": [
            {
                "provider": r.provider,
                "source": r.source,
                "days": r.days,
                "billed": r.billed,
                "estimated": r.estimated,
                "difference": r.difference,
            }
            for r in summary.reconciliation
        ],
        "sources": [
            {
                "source": row.name,
                "status": row.status,
                "last_refresh": _instant(row.last_refresh),
                "error": row.error,
            }
            for row in summary.sources
        ],
        "rates": None,
    }
    if summary.rates_of is not None:
        oldest, newest = summary.rates_of
        status["rates"] = {"origin": ECB, "from": str(oldest), "to": str(newest)}
    return status


def budget_object(summary: MonthSummary) -> dict[str, Any]:
    """``qoins budget --json``: the total's state, the other budgets as in status."""
    return {
        "currency": summary.currency,
        "total": {
            "amount": summary.budget,
            "spent": summary.spent,
            "remaining": summary.remaining,
            "percent": summary.percent,
            "projected": summary.forecast.projected,
        },
        "budgets": budget_rows(summary),
        "emergency": None,
    }


def budget_rows(summary: MonthSummary) -> list[dict[str, Any]]:
    """Every budget besides the total, with what was spent against it."""
    return [
        {"scope": scope, "amount": amount, "spent": spent, "percent": pct}
        for scope, amount, spent, pct in summary.budgets
    ]


def to_json(value: Any, indent: int = 2) -> str:
    """JSON in which a Decimal is a number carrying every stored digit."""
    return _encode(value, indent, 0)


def _encode(value: Any, indent: int, depth: int) -> str:
    pad = "\n" + " " * indent * (depth + 1)
    end = "\n" + " " * indent * depth
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = [
            f"{json.dumps(str(k))}: {_encode(v, indent, depth + 1)}"
            for k, v in value.items()
        ]
        return "{" + pad + ("," + pad).join(items) + end + "}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            return "[]"
        items = [_encode(v, indent, depth + 1) for v in value]
        return "[" + pad + ("," + pad).join(items) + end + "]"
    return json.dumps(value, ensure_ascii=False)


def _instant(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def status_box(summary: MonthSummary) -> str:
    """The seed's dashboard box, with the month's figures."""
    cur = summary.currency
    lines = [f"QOINs · {summary.month.label}".center(BOX_WIDTH - 4)]
    body: list[str] = []
    over = summary.percent is not None and summary.percent >= WARN_AT
    if summary.budget is not None:
        warn = " ⚠" if over else ""
        body.append(
            f"Budget: {format_money(summary.spent, cur)} / "
            f"{format_money(summary.budget, cur)} "
            f"({format_percent(summary.percent)}){warn}"
        )
        remaining = summary.remaining or Decimal(0)
        days = (
            f" ({summary.days_left} day{'s' if summary.days_left != 1 else ''} left)"
            if summary.is_current
            else ""
        )
        word = "Remaining" if remaining >= 0 else "Over by"
        body.append(f"{word}: {format_money(abs(remaining), cur)}{days}")
    else:
        body.append(f"Spent: {format_money(summary.spent, cur)} (no budget set)")
    if summary.estimated:
        body.append(
            f"  incl. {format_money(summary.estimated, cur)} estimated from usage logs"
        )
    body.append("")
    if summary.top:
        body.append("Top Services:")
        largest = max(line.spent for line in summary.top)
        for line in summary.top[:6]:
            share = line.share or Decimal(0)
            cells = 0
            if largest > 0 and line.spent > 0:
                cells = max(
                    1, int((line.spent / largest * BAR_CELLS).to_integral_value())
                )
            bar = "█" * cells
            label = line.label if len(line.label) <= 14 else line.label[:13] + "…"
            amount = format_money(line.spent, cur)
            body.append(f"• {label:<14}{amount:>10}  {bar:<12} {format_percent(share)}")
    else:
        body.append("No spending recorded this month.")
    body.append("")
    if summary.previous_spent is not None:
        body.append(f"Trend: {format_change(summary.change_percent)} vs last month")
    projected = summary.forecast.projected
    if projected is not None and summary.is_current:
        flag = ""
        if summary.budget is not None and projected > summary.budget:
            flag = " (⚠ OVER BUDGET)"
        body.append(f"Projected Total: {format_money(projected, cur)}{flag}")
    elif summary.is_current:
        body.append("Projected Total: not enough days yet")
    body.extend(reconciliation_line(r, cur) for r in summary.reconciliation)
    if summary.plan_value:
        body.append(
            f"Paid by plans: {format_money(summary.plan_value, cur)} of agent usage"
        )
    if summary.unpriced:
        models = len(summary.unpriced)
        body.append(
            f"⚠ {format_tokens(summary.unpriced_tokens)} tokens of {models} "
            f"model{'s' if models > 1 else ''} have no price: totals are a lower bound"
        )
    if summary.rates_note is not None:
        body.append(f"Converted at {summary.rates_note}")
    for currency, unconverted in summary.unconverted:
        body.append(f"⚠ Not converted: {format_money(unconverted, currency)} (no rate)")
    failed = [row.label for row in summary.sources if row.status == "failed"]
    if failed:
        body.append(
            f"⚠ {len(failed)} source{'s' if len(failed) > 1 else ''} failed: "
            + ", ".join(failed)
        )
    inner = BOX_WIDTH - 4
    wrapped: list[str] = []
    for text in body:
        wrapped.extend(textwrap.wrap(text, inner, subsequent_indent="  ") or [""])
    rule = "─" * (BOX_WIDTH - 2)
    out = [f"┌{rule}┐"]
    out += [f"│ {line:<{inner}} │" for line in lines]
    out.append(f"├{rule}┤")
    out += [f"│ {line:<{inner}} │" for line in wrapped]
    out.append(f"└{rule}┘")
    return "\n".join(out)


def alert_object(alert: AlertRecord) -> dict[str, Any]:
    """One stored alert for ``qoins alerts --json``."""
    return {
        "id": alert.alert_id,
        "fired_at": _instant(alert.fired_at),
        "rule": alert.rule,
        "kind": alert.kind,
        "scope": alert.scope,
        "period": alert.period,
        "severity": alert.severity,
        "state": alert.state,
        "title": alert.title,
        "message": alert.message,
        "currency": alert.currency,
        "amount": alert.amount,
        "budget": alert.budget,
        "projected": alert.projected,
        "threshold": alert.threshold,
        "covered": alert.covered,
        "deliveries": [
            {
                "channel": d.channel,
                "status": d.status,
                "attempts": d.attempts,
                "last_attempt": _instant(d.last_attempt),
                "error": d.error,
            }
            for d in alert.deliveries
        ],
    }
