"""One module per source QOINs reads; this registry maps a config ``type`` to it.

``PLANNED_TYPES`` are sources the design names whose collectors come later; a config
entry of such a type fails alone on refresh with a message saying so.
"""

from __future__ import annotations

from collectors.anthropic_api import AnthropicCollector
from collectors.base import Collector
from collectors.claude_code import ClaudeCodeCollector
from collectors.codex import CodexCollector
from collectors.cursor import CursorCollector
from collectors.focus import FocusCollector
from collectors.gemini_cli import GeminiCliCollector
from collectors.openai_api import OpenAICollector
from collectors.subscriptions import SubscriptionsCollector

COLLECTOR_TYPES: dict[str, type[Collector]] = {
    collector.type: collector
    for collector in (
        AnthropicCollector,
        ClaudeCodeCollector,
        CodexCollector,
        CursorCollector,
        FocusCollector,
        GeminiCliCollector,
        OpenAICollector,
        SubscriptionsCollector,
    )
}

DETECTED_TYPES: tuple[type[Collector], ...] = (
    ClaudeCodeCollector,
    CodexCollector,
    GeminiCliCollector,
)
"""Agent logs found in their default folders are read without a config entry."""

PLANNED_TYPES = frozenset(
    {
        "aws",
        "gcp",
        "azure",
        "vercel",
        "netlify",
        "github",
        "docker_hub",
        "sentry",
        "datadog",
        "stripe",
        "ollama",
        "lm_studio",
        "domains",
        "certificates",
        "cloudflare",
        "sendgrid",
        "mailgun",
    }
)

__all__ = ["COLLECTOR_TYPES", "DETECTED_TYPES", "PLANNED_TYPES", "Collector"]
