"""Claude Code session logs: tokens per model response, priced offline.

Reads ``projects/**/*.jsonl`` under ``~/.claude`` and ``$XDG_CONFIG_HOME/claude``,
or under each entry of ``CLAUDE_CONFIG_DIR`` (a comma-separated list of config dirs
or their ``projects`` dirs), or the ``paths`` of the source's config entry. No key
is needed. Only usage fields are read: no prompt or answer text leaves the file.

Claude Code writes one line per content block, each repeating the response's usage,
and a resumed session repeats earlier lines in a new file; so a response is keyed on
``message.id`` and ``requestId`` (``message.id`` alone when the request id is missing
or empty) and the line with the most tokens wins across all files. Its
``input_tokens`` excludes cache reads and writes (Anthropic's convention). A usage
line without a ``timestamp`` is dated by its file's modification time, the last
moment the session wrote; a timestamp that does not parse makes the line malformed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from collectors.base import BulkSpec
from collectors.logfiles import AgentLogCollector, malformed_json_lines, sql_columns

_COLUMNS = sql_columns(
    {
        "type": "VARCHAR",
        "timestamp": "VARCHAR",
        "requestId": "VARCHAR",
        "uuid": "VARCHAR",
        "sessionId": "VARCHAR",
        "cwd": "VARCHAR",
        "isSidechain": "BOOLEAN",
        "isApiErrorMessage": "BOOLEAN",
        "message": "STRUCT(id VARCHAR, model VARCHAR, usage STRUCT("
        "input_tokens BIGINT, output_tokens BIGINT, "
        "cache_creation_input_tokens BIGINT, cache_read_input_tokens BIGINT, "
        "cache_creation STRUCT(ephemeral_5m_input_tokens BIGINT, "
        "ephemeral_1h_input_tokens BIGINT), speed VARCHAR))",
    }
)

_SELECT = f"""
WITH raw AS (
    SELECT filename, type, uuid, sessionId, cwd,
        coalesce(isSidechain, false) AS sidechain,
        coalesce(isApiErrorMessage, false) AS api_error,
        coalesce(
            try_cast(timestamp AS TIMESTAMPTZ),
            CASE WHEN timestamp IS NULL THEN file.modified END
        ) AS ts,
        nullif(message.id, '') AS message_id,
        nullif(requestId, '') AS request_id,
        message.model AS model,
        message.usage AS u,
        type IS NULL AND timestamp IS NULL AND message IS NULL AND uuid IS NULL
            AND sessionId IS NULL AS broken
    FROM read_json($files, format = 'newline_delimited', ignore_errors = true,
                   filename = true, maximum_object_size = $max_object_size,
                   columns = {_COLUMNS}) AS line
    LEFT JOIN (
        SELECT unnest($files) AS name, to_timestamp(unnest($modified)) AS modified
    ) AS file ON file.name = line.filename
), tokens AS (
    SELECT *,
        coalesce(u.input_tokens, 0) AS input_tokens,
        coalesce(u.output_tokens, 0) AS output_tokens,
        coalesce(u.cache_read_input_tokens, 0) AS cache_read_tokens,
        CASE WHEN u.cache_creation.ephemeral_5m_input_tokens IS NULL
                  AND u.cache_creation.ephemeral_1h_input_tokens IS NULL
             THEN coalesce(u.cache_creation_input_tokens, 0)
             ELSE coalesce(u.cache_creation.ephemeral_5m_input_tokens, 0) END
            AS cache_write_5m_tokens,
        coalesce(u.cache_creation.ephemeral_1h_input_tokens, 0) AS cache_write_1h_tokens
    FROM raw
)
SELECT filename,
    CASE
        WHEN broken THEN 'malformed'
        WHEN type IS DISTINCT FROM 'assistant' OR u IS NULL THEN 'other'
        WHEN model = '<synthetic>' THEN 'synthetic'
        WHEN api_error THEN 'error'
        WHEN ts IS NULL THEN 'malformed'
        WHEN least(input_tokens, output_tokens, cache_read_tokens,
                   cache_write_5m_tokens, cache_write_1h_tokens) < 0 THEN 'negative'
        WHEN coalesce(message_id, request_id, uuid) IS NULL THEN 'other'
        ELSE 'usage'
    END AS kind,
    CASE
        WHEN message_id IS NOT NULL AND request_id IS NOT NULL
            THEN message_id || ':' || request_id
        WHEN message_id IS NOT NULL THEN message_id
        WHEN request_id IS NOT NULL THEN 'request:' || request_id
        ELSE 'line:' || uuid
    END AS record_key,
    ts,
    model,
    input_tokens,
    cache_read_tokens,
    cache_write_5m_tokens,
    cache_write_1h_tokens,
    output_tokens,
    (input_tokens + output_tokens + cache_read_tokens + cache_write_5m_tokens
        + cache_write_1h_tokens) * 4.0
        + CASE WHEN u.speed IS NOT NULL THEN 2 ELSE 0 END
        + CASE WHEN sidechain THEN 0 ELSE 1 END AS rank,
    cwd AS origin,
    sessionId AS session_id
FROM tokens
"""


def default_project_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where Claude Code keeps ``projects``: CLAUDE_CONFIG_DIR, else both defaults."""
    env = os.environ if environ is None else environ
    configured = env.get("CLAUDE_CONFIG_DIR", "").strip()
    if configured:
        dirs = []
        for entry in configured.split(","):
            entry = entry.strip()
            if not entry:
                continue
            path = Path(entry).expanduser()
            dirs.append(path if path.name == "projects" else path / "projects")
        return dirs
    home = Path(env.get("HOME") or Path.home())
    xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return [home / ".claude" / "projects", xdg / "claude" / "projects"]


class ClaudeCodeCollector(AgentLogCollector):
    type = "claude_code"
    title = "Claude Code logs"
    select = _SELECT
    provider = "anthropic"
    provider_name = "Anthropic"

    @classmethod
    def default_roots(cls) -> list[Path]:
        return default_project_dirs()

    def spec(self, files: list[Path]) -> BulkSpec:
        spec = super().spec(files)
        modified = [path.stat().st_mtime for path in files]
        return replace(spec, params={**spec.params, "modified": modified})

    def malformed_lines(self, path: Path) -> list[int]:
        return malformed_json_lines(path, required_key="type")
