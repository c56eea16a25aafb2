"""A store seeded with two months of charges for the app's tests, and its figures.

The month on view is December 2026 and "now" is 2026-12-24 09:30 UTC, so 23 whole
days have passed and 8 are left, today included. The charges, by source:

- ``claude_code`` (estimated from tokens, budget $50): claude-sonnet-4-5 $1.50 a day
  on Dec 1–23 ($34.50), claude-opus-4-1 $6.00 on Dec 10 and $4.70 on Dec 20, and
  1.2M tokens of qwen3-coder with no price. December: $45.20.
- ``aws_focus`` (billed, budget $30): Amazon EC2 $1.10 a day on Dec 1–23 ($25.30),
  Amazon S3 $4.85 on Dec 15, a credit of -$2.00 on Dec 5. December: $28.15.
- ``subscriptions``: GitHub Copilot $10.00 on the 5th of each month.
- ``gcp_focus`` (billed): Cloud Run $2.30 on Dec 18.
- ``codex`` (``billing: plan``): $0.80 a day on Dec 1–23 of usage the plan pays
  ($18.40): its value, never spend.
- imported files: ``vercel-2026-12.csv`` $6.29 + $4.00 on Dec 12 ($10.29),
  ``hetzner-2026-12.csv`` €4.20 on Dec 1 with no rate to USD (unconverted).

December spend: 45.20 + 28.15 + 10.00 + 2.30 + 10.29 = $95.94 of $110.00 (87%),
$14.06 left. November: claude_code $1.20 × 30 = $36.00, EC2 $0.90 × 30 = $27.00,
Copilot $10.00, Cloud Run $2.00, ``vercel-2026-11.csv`` $8.43: $83.43, so December
so far is (95.94 − 83.43) ÷ 83.43 = +15%.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from collectors.base import Charge, RecordBatch
from qoins_tui.config import Settings
from qoins_tui.store import Counts, RefreshRecord, Store
from tests.conftest import make_settings

NOW = dt.datetime(2026, 12, 24, 9, 30, tzinfo=dt.UTC)
REFRESHED = dt.datetime(2026, 12, 24, 9, 12, tzinfo=dt.UTC)
IMPORTED = dt.datetime(2026, 12, 20, 10, 0, tzinfo=dt.UTC)

CONFIG = """\
budget:
  monthly_limit: 110.00
  currency: USD
  timezone: UTC
services:
  claude_code:
    billing: api
    budget_limit: 50.00
  aws_focus:
    type: focus
    paths: [/data/exports/aws/*.csv]
    budget_limit: 30.00
  gcp_focus:
    type: focus
    paths: [/data/exports/gcp/*.csv]
  codex:
    billing: plan
subscriptions:
  - name: GitHub Copilot
    provider: GitHub
    amount: 10.00
    currency: USD
    period: monthly
    start: 2026-03-05
"""

VERCEL_DEC = "import:/data/exports/vercel-2026-12.csv"
VERCEL_NOV = "import:/data/exports/vercel-2026-11.csv"
HETZNER = "import:/data/exports/hetzner-2026-12.csv"

GCP_ERROR = (
    "/data/exports/gcp/2026-12.csv: is not a FOCUS export: it lacks BilledCost, "
    "BillingCurrency. A FOCUS file has at least BilledCost, BillingCurrency, "
    "ChargePeriodStart, ServiceName and ProviderName or ServiceProviderName."
)
MALFORMED_NOTE = (
    "/home/dev/.claude/projects/qoins/5f1c.jsonl: skipped malformed lines 17, 342"
)


def frozen_clock() -> dt.datetime:
    return NOW


def settings() -> Settings:
    return make_settings(CONFIG)


def _day(month: int, day: int) -> dt.date:
    return dt.date(2026, month, day)


def _instant(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 10, 0, tzinfo=dt.UTC)


def _agent(
    key: str,
    month: int,
    day: int,
    model: str,
    cost: str | None,
    *,
    provider: str = "Anthropic",
    service: str = "Claude Code",
    billing: str = "api",
    tokens: int = 0,
) -> Charge:
    return Charge(
        record_key=key,
        provider=provider,
        service=service,
        model=model,
        billed_cost=Decimal(cost) if cost is not None else None,
        currency="USD",
        period_start=_instant(month, day),
        period_end=_instant(month, day) + dt.timedelta(minutes=1),
        cost_basis="estimated" if cost is not None else "unpriced",
        billing=billing,
        input_tokens=tokens * 5 // 6,
        output_tokens=tokens - tokens * 5 // 6,
    )


def _billed(
    key: str,
    month: int,
    day: int,
    provider: str,
    service: str,
    cost: str,
    *,
    sku: str | None = None,
    currency: str = "USD",
    category: str = "Usage",
) -> Charge:
    return Charge(
        record_key=key,
        provider=provider,
        service=service,
        sku=sku,
        billed_cost=Decimal(cost),
        currency=currency,
        charge_date=_day(month, day),
        charge_category=category,
    )


def _charges() -> dict[str, list[Charge]]:
    claude = [
        _agent(f"sonnet-12-{d}", 12, d, "claude-sonnet-4-5", "1.50")
        for d in range(1, 24)
    ]
    claude += [
        _agent("opus-12-10", 12, 10, "claude-opus-4-1", "6.00"),
        _agent("opus-12-20", 12, 20, "claude-opus-4-1", "4.70"),
        _agent("qwen-12-22", 12, 22, "qwen3-coder", None, tokens=1_200_000),
    ]
    claude += [
        _agent(f"sonnet-11-{d}", 11, d, "claude-sonnet-4-5", "1.20")
        for d in range(1, 31)
    ]
    aws = [
        _billed(f"ec2-12-{d}", 12, d, "AWS", "Amazon EC2", "1.10", sku="t3.medium")
        for d in range(1, 24)
    ]
    aws += [
        _billed("s3-12-15", 12, 15, "AWS", "Amazon S3", "4.85", sku="TimedStorage"),
        _billed(
            "credit-12-05",
            12,
            5,
            "AWS",
            "Promotional credit",
            "-2.00",
            sku="Credit",
            category="Credit",
        ),
    ]
    aws += [
        _billed(f"ec2-11-{d}", 11, d, "AWS", "Amazon EC2", "0.90", sku="t3.medium")
        for d in range(1, 31)
    ]
    codex = [
        _agent(
            f"codex-12-{d}",
            12,
            d,
            "gpt-5-codex",
            "0.80",
            provider="OpenAI",
            service="Codex",
            billing="plan",
        )
        for d in range(1, 24)
    ]
    return {
        "claude_code": claude,
        "aws_focus": aws,
        "codex": codex,
        "gcp_focus": [
            _billed("run-12-18", 12, 18, "Google Cloud", "Cloud Run", "2.30"),
            _billed("run-11-18", 11, 18, "Google Cloud", "Cloud Run", "2.00"),
        ],
        "subscriptions": [
            _billed("copilot-12", 12, 5, "GitHub", "GitHub Copilot", "10.00"),
            _billed("copilot-11", 11, 5, "GitHub", "GitHub Copilot", "10.00"),
        ],
        VERCEL_DEC: [
            _billed("bw-12", 12, 12, "Vercel", "Bandwidth", "6.29"),
            _billed("fn-12", 12, 12, "Vercel", "Functions", "4.00"),
        ],
        VERCEL_NOV: [_billed("bw-11", 11, 12, "Vercel", "Bandwidth", "8.43")],
        HETZNER: [
            _billed("cx-12", 12, 1, "Hetzner", "Cloud servers", "4.20", currency="EUR")
        ],
    }


def _record(
    source: str,
    kind: str,
    finished: dt.datetime,
    counts: Counts,
    *,
    error: str | None = None,
) -> RefreshRecord:
    return RefreshRecord(
        source=source,
        kind=kind,
        started_at=finished - dt.timedelta(seconds=3),
        finished_at=finished,
        status="failed" if error else "ok",
        counts=counts,
        error=error,
    )


def seed_store(store: Store, *, gcp_failed: bool = False) -> None:
    """Write the charges above and a refresh log; ``gcp_failed`` fails gcp_focus."""
    for source, charges in _charges().items():
        store.write_records(source, RecordBatch(charges))
    claude_counts = Counts(
        read=1234,
        counted=1200,
        new=30,
        duplicate=34,
        malformed=2,
        unpriced=3,
        notes=[MALFORMED_NOTE],
    )
    records = [
        _record(VERCEL_NOV, "focus", IMPORTED, Counts(read=1, counted=1, new=1)),
        _record(VERCEL_DEC, "focus", IMPORTED, Counts(read=2, counted=2, new=2)),
        _record(HETZNER, "focus", IMPORTED, Counts(read=1, counted=1, new=1)),
        _record("gcp_focus", "focus", IMPORTED, Counts(read=2, counted=2, new=1)),
        _record("claude_code", "claude_code", REFRESHED, claude_counts),
        _record("aws_focus", "focus", REFRESHED, Counts(read=57, counted=57, new=2)),
        _record("codex", "codex", REFRESHED, Counts(read=23, counted=23)),
        _record("subscriptions", "subscriptions", REFRESHED, Counts(read=1, counted=1)),
    ]
    if gcp_failed:
        records.append(
            _record(
                "gcp_focus",
                "focus",
                REFRESHED,
                Counts(problems=[GCP_ERROR]),
                error=GCP_ERROR,
            )
        )
    else:
        records.append(
            _record("gcp_focus", "focus", REFRESHED, Counts(read=2, counted=2))
        )
    for record in records:
        store.record_refresh(record)


# -- a store with long names and large amounts -----------------------------------

LONG_CONFIG = """\
budget:
  monthly_limit: 50.00
  currency: USD
  timezone: UTC
services:
  aws_billing_export:
    type: focus
    paths: [/data/exports/aws/*.csv]
"""
"""No ``claude_code`` entry: the tests that use it call :func:`detectable_claude_logs`
so the Claude Code logs are a detected source, shown as ``claude_code (detected)``."""

RDS = "Amazon Relational Database Service"
RDS_SKU = "USE1-Multi-AZUsage:db.r6g.2xlarge"
EC2 = "Amazon Elastic Compute Cloud - Compute"
EC2_SKU = "USE1-BoxUsage:m7i.48xlarge"
PREVIEW = "claude-next-preview"


def detectable_claude_logs() -> None:
    """A log file in Claude Code's usual folder under ``$HOME`` (the tests' own), so
    the app finds Claude Code without a config entry; its lines do not matter, the
    store already holds the charges."""
    folder = Path.home() / ".claude" / "projects" / "qoins"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "session.jsonl").touch()


def seed_long_names(store: Store) -> None:
    """December 2026 with long service names and five-figure amounts.

    - ``aws_billing_export``: RDS $7,000.00 on Dec 3 and on Dec 4 ($14,000.00),
      EC2 $998.45 on Dec 4. December: $14,998.45.
    - ``claude_code``, read from agent logs, so each charge's service is its model:
      claude-sonnet-4-5 $0.50 a day on Dec 1–23 ($11.50) and 13 charges of
      claude-next-preview with no price, 100,000 tokens each (1.3M tokens).

    December spend: 14,998.45 + 11.50 = $15,009.95 of $50.00, $14,959.95 over.
    """
    aws = [
        _billed(f"rds-{d}", 12, d, "AWS", RDS, "7000.00", sku=RDS_SKU) for d in (3, 4)
    ]
    aws.append(_billed("ec2-4", 12, 4, "AWS", EC2, "998.45", sku=EC2_SKU))
    claude = [
        _agent(
            f"sonnet-{d}",
            12,
            d,
            "claude-sonnet-4-5",
            "0.50",
            service="claude-sonnet-4-5",
        )
        for d in range(1, 24)
    ]
    claude += [
        _agent(f"preview-{i}", 12, 22, PREVIEW, None, service=PREVIEW, tokens=100_000)
        for i in range(13)
    ]
    store.write_records("aws_billing_export", RecordBatch(aws))
    store.write_records("claude_code", RecordBatch(claude))
    store.record_refresh(
        _record("aws_billing_export", "focus", REFRESHED, Counts(read=3, counted=3))
    )
    store.record_refresh(
        _record("claude_code", "claude_code", REFRESHED, Counts(read=36, counted=36))
    )


def seed_october(store: Store) -> None:
    """One charge in October 2026, so November has a month before it: gcp_focus
    Cloud Run $2.00 on Oct 18."""
    store.write_records(
        "gcp_focus",
        RecordBatch(
            [_billed("run-10-18", 10, 18, "Google Cloud", "Cloud Run", "2.00")]
        ),
    )
