"""Codex CLI session logs (being written)."""

from __future__ import annotations

from collectors.base import BulkCollector


class CodexCollector(BulkCollector):
    type = "codex"
    title = "Codex CLI logs"
