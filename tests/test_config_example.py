"""The shipped ``config.example.yml`` stays valid and documents what is read."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from collectors import COLLECTOR_TYPES
from qoins_tui.config import SOURCE_COMMON_KEYS, SUBSCRIPTION_KEYS, load_file

EXAMPLE = Path(__file__).parent.parent / "config.example.yml"


def test_example_loads_without_errors_or_warnings() -> None:
    settings = load_file(EXAMPLE)

    assert settings.budget.monthly_limit == Decimal("110.00")
    assert settings.budget.currency == "USD"
    assert [(s.name, s.type, s.error) for s in settings.sources] == [
        ("claude_code", "claude_code", None),
        ("codex", "codex", None),
        ("gemini_cli", "gemini_cli", None),
        ("openai", "openai", None),
        ("anthropic", "anthropic", None),
        ("cursor", "cursor", None),
        ("cloud_exports", "focus", None),
    ]
    assert [s.name for s in settings.subscriptions] == [
        "GitHub Copilot",
        "Docker Team",
        "example.dev domain",
    ]
    docker = settings.subscriptions[1]
    assert docker.charge == Decimal("45.00")
    assert settings.warnings == ()


def test_example_mentions_every_source_and_subscription_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    written = set(re.findall(r"^\s*#?\s*-?\s*([a-z_0-9]+):", text, flags=re.MULTILINE))

    for key in SOURCE_COMMON_KEYS:
        assert key in text, key
    assert written >= SUBSCRIPTION_KEYS
    for key in ("monthly_limit", "currency", "timezone", "rates", "billing", "paths"):
        assert key in written, key


def test_example_mentions_every_setting_of_every_collector() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    written = set(re.findall(r"^\s*#?\s*([a-z_0-9]+):", text, flags=re.MULTILINE))

    for kind in COLLECTOR_TYPES.values():
        assert kind.type in written or f"type: {kind.type}" in text, kind.type
        assert kind.settings_keys <= written, (kind.type, kind.settings_keys - written)
