"""Gemini CLI session logs: tokens per Gemini response, priced offline as Google usage.

Reads the chat files under ``tmp/*/chats/`` (subagent sessions nest one folder
deeper) of ``~/.gemini``, or of each entry of ``GEMINI_DATA_DIR`` (a comma-separated
list of folders shaped like ``~/.gemini``; an entry that is itself a ``tmp`` folder
is taken as it is), or of the ``paths`` of the source's config entry. No key is
needed. Only usage fields are read (session and message ids, message type and time,
model, token counts): no prompt, answer or tool output leaves the file.

Two layouts exist, and both are read inside DuckDB:

- ``*.json`` (older CLIs): one object ``{sessionId, startTime, lastUpdated,
  messages[]}``, rewritten whole on every turn. A file that is not valid JSON counts
  as one malformed line.
- ``*.jsonl`` (newer CLIs): a first line with the session's metadata
  (``sessionId``, ``projectHash``, ``startTime``), then one line per message record,
  appended again whenever the message changes (its tokens arrive, a tool call
  ends), plus ``{"$set": {...}}`` metadata updates and ``{"$rewindTo": id}`` marks.
  A rewind hides messages from the conversation, but their tokens were spent, so
  they still count. Resuming an old ``.json`` session copies its messages into a
  ``.jsonl`` file of the same name.

A response is keyed on its session id and message id: the copies a ``.jsonl`` file
appends, the same session migrated from ``.json`` to ``.jsonl`` and every rewrite of
a ``.json`` file collapse to one charge, the copy with the most tokens. Messages of
``type: "gemini"`` carry ``tokens{input, output, cached, thoughts, tool, total}``
(``prompt`` and ``candidates`` are read where ``input`` and ``output`` are missing).
Units are the Gemini API's: ``input`` includes ``cached``, so stored input is
``input − cached`` plus the tool-use prompt tokens, and ``cached`` is stored as cache
reads; ``thoughts`` are billed as output and stored inside it. User, info and error
messages, metadata lines and messages without tokens are skipped.

The working folder of a session is the project root Gemini CLI records in the
``.project_root`` file beside ``chats/``; sessions in folders named by the older
project hash have none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from collectors.base import BulkSpec
from collectors.logfiles import (
    AgentLogCollector,
    existing_dirs,
    largest_line_bound,
    malformed_json_lines,
    sql_columns,
)

DATA_DIR_ENV = "GEMINI_DATA_DIR"
PROJECT_ROOT_FILE = ".project_root"

_TOKENS = {
    "input": "BIGINT",
    "prompt": "BIGINT",
    "output": "BIGINT",
    "candidates": "BIGINT",
    "cached": "BIGINT",
    "thoughts": "BIGINT",
    "tool": "BIGINT",
}
_MESSAGE = {
    "id": "VARCHAR",
    "type": "VARCHAR",
    "timestamp": "VARCHAR",
    "model": "VARCHAR",
    "tokens": _TOKENS,
}
# The shapes name only usage fields, so no message text is extracted from a record;
# a field of an unexpected type reads as NULL instead of spoiling the record.
_SESSION_SHAPE = json.dumps({"sessionId": "VARCHAR", "messages": [_MESSAGE]})
_TOKENS_SQL = "STRUCT(" + ", ".join(f"{k} {v}" for k, v in _TOKENS.items()) + ")"
_LINE_COLUMNS = sql_columns(
    {
        "sessionId": "VARCHAR",
        "projectHash": "VARCHAR",
        "id": "VARCHAR",
        "type": "VARCHAR",
        "timestamp": "VARCHAR",
        "model": "VARCHAR",
        "tokens": _TOKENS_SQL,
        "$set": "STRUCT(sessionId VARCHAR)",
        "$rewindTo": "VARCHAR",
    }
)
_STEM = r"regexp_extract(filename, '([^/\\]+?)\.jsonl?$', 1)"

_JSON_ROWS = f"""
json_texts AS (
    SELECT filename, try(from_json(content, '{_SESSION_SHAPE}')) AS doc
    FROM read_text($json_files)
), json_docs AS (
    SELECT filename, doc,
        doc IS NULL OR (doc.sessionId IS NULL AND doc.messages IS NULL) AS broken
    FROM json_texts
), json_messages AS (
    SELECT filename, broken,
        coalesce(nullif(doc.sessionId, ''), {_STEM}) AS session_id,
        unnest(CASE WHEN broken THEN [NULL]
                    ELSE coalesce(doc.messages, []) END) AS m
    FROM json_docs
), json_rows AS (
    SELECT filename, broken, session_id, m.id AS message_id, m.type AS type,
        m.timestamp AS timestamp, m.model AS model, m.tokens AS tokens
    FROM json_messages
)"""

_JSONL_ROWS = f"""
jsonl_lines AS (
    SELECT filename, sessionId, "$set".sessionId AS set_session, id, type, timestamp,
        model, tokens,
        sessionId IS NULL AND projectHash IS NULL AND id IS NULL AND type IS NULL
            AND timestamp IS NULL AND model IS NULL AND tokens IS NULL
            AND "$set" IS NULL AND "$rewindTo" IS NULL AS broken
    FROM read_json($jsonl_files, format = 'newline_delimited', ignore_errors = true,
                   filename = true, maximum_object_size = $max_object_size,
                   columns = {_LINE_COLUMNS})
), jsonl_sessions AS (
    SELECT filename,
        coalesce(max(nullif(sessionId, '')), max(nullif(set_session, '')),
                 {_STEM}) AS session_id
    FROM jsonl_lines GROUP BY filename
), jsonl_rows AS (
    SELECT l.filename, l.broken, s.session_id, l.id AS message_id, l.type,
        l.timestamp, l.model, l.tokens
    FROM jsonl_lines l JOIN jsonl_sessions s ON s.filename = l.filename
)"""

_SELECT_TAIL = """
origins AS (
    SELECT unnest($origin_files::VARCHAR[]) AS filename,
           unnest($origin_paths::VARCHAR[]) AS origin
), typed AS (
    SELECT *,
        try_cast(timestamp AS TIMESTAMPTZ) AS ts,
        nullif(trim(model), '') AS model_name,
        coalesce(tokens.input, tokens.prompt, 0) AS t_in,
        coalesce(tokens.output, tokens.candidates, 0) AS t_out,
        coalesce(tokens.cached, 0) AS t_cached,
        coalesce(tokens.thoughts, 0) AS t_thoughts,
        coalesce(tokens.tool, 0) AS t_tool
    FROM rows
)
SELECT t.filename,
    CASE
        WHEN t.broken THEN 'malformed'
        WHEN t.type IS DISTINCT FROM 'gemini' OR t.tokens IS NULL THEN 'other'
        WHEN t.t_in = 0 AND t.t_out = 0 AND t.t_cached = 0 AND t.t_thoughts = 0
             AND t.t_tool = 0 THEN 'other'
        WHEN t.ts IS NULL OR nullif(t.message_id, '') IS NULL THEN 'malformed'
        WHEN least(t.t_in, t.t_out, t.t_cached, t.t_thoughts, t.t_tool) < 0
             OR t.t_in < t.t_cached THEN 'negative'
        ELSE 'usage'
    END AS kind,
    'gemini:' || t.session_id || ':' || t.message_id AS record_key,
    t.ts,
    t.model_name AS model,
    t.t_in - t.t_cached + t.t_tool AS input_tokens,
    t.t_cached AS cache_read_tokens,
    0 AS cache_write_5m_tokens,
    0 AS cache_write_1h_tokens,
    t.t_out + t.t_thoughts AS output_tokens,
    CAST((t.t_in + t.t_out + t.t_thoughts + t.t_tool) * 2
        + CASE WHEN t.model_name IS NULL THEN 0 ELSE 1 END AS DOUBLE) AS rank,
    o.origin,
    t.session_id
FROM typed t LEFT JOIN origins o ON o.filename = t.filename
"""


def build_select(*, has_json: bool, has_jsonl: bool) -> str:
    """The SELECT over the ``.json`` and ``.jsonl`` files of one read."""
    parts = []
    sources = []
    if has_json:
        parts.append(_JSON_ROWS)
        sources.append("SELECT * FROM json_rows")
    if has_jsonl:
        parts.append(_JSONL_ROWS)
        sources.append("SELECT * FROM jsonl_rows")
    union = " UNION ALL BY NAME ".join(sources)
    parts.append(f"\nrows AS ({union})")
    return "WITH " + ",".join(parts) + "," + _SELECT_TAIL


def data_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Every GEMINI_DATA_DIR entry (a comma-separated list), else ``~/.gemini``."""
    env = os.environ if environ is None else environ
    configured = env.get(DATA_DIR_ENV, "").strip()
    if configured:
        return [
            Path(entry.strip()).expanduser()
            for entry in configured.split(",")
            if entry.strip()
        ]
    return [Path(env.get("HOME") or Path.home()) / ".gemini"]


def tmp_dirs(dirs: Iterable[Path]) -> list[Path]:
    """The ``tmp`` folder of each data dir; a folder named ``tmp`` is taken as is."""
    return [path if path.name == "tmp" else path / "tmp" for path in dirs]


def default_tmp_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where Gemini CLI keeps its per-project folders, for every data dir."""
    return tmp_dirs(data_dirs(environ))


def chat_files(roots: Iterable[Path]) -> list[Path]:
    """The chat files below ``<root>/<project>/chats/``, in a stable order."""
    found: dict[str, Path] = {}
    for root in existing_dirs(roots):
        for pattern in ("*/chats/**/*.json", "*/chats/**/*.jsonl"):
            for path in root.glob(pattern):
                if path.is_file():
                    found.setdefault(os.path.realpath(path), path)
    return sorted(found.values())


def project_roots(chat_files: Iterable[Path]) -> dict[str, str]:
    """The project folder of each chat file that has one: what Gemini CLI wrote in
    ``.project_root`` beside its ``chats`` folder. Each marker is read once."""
    markers: dict[Path, str | None] = {}
    result = {}
    for path in chat_files:
        chats = next((p for p in path.parents if p.name == "chats"), None)
        if chats is None:
            continue
        if chats not in markers:
            try:
                text = (chats.parent / PROJECT_ROOT_FILE).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = ""
            markers[chats] = text.strip() or None
        root = markers[chats]
        if root is not None:
            result[str(path)] = root
    return result


def malformed_session_lines(path: Path) -> list[int]:
    """For a ``.json`` session: the line where its JSON breaks, if it does."""
    try:
        value = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        return [exc.lineno]
    except (OSError, UnicodeDecodeError):
        return []
    return [] if isinstance(value, dict) else [1]


class GeminiCliCollector(AgentLogCollector):
    type = "gemini_cli"
    title = "Gemini CLI logs"
    provider = "google"
    provider_name = "Google"

    @classmethod
    def default_roots(cls) -> list[Path]:
        return default_tmp_dirs()

    @classmethod
    def roots_from(cls, paths: Iterable[Path]) -> list[Path]:
        return tmp_dirs(paths)

    @classmethod
    def detect(cls) -> bool:
        return bool(chat_files(cls.default_roots()))

    def files(self) -> list[Path]:
        return chat_files(self.roots())

    def spec(self, files: list[Path]) -> BulkSpec:
        json_files = [str(p) for p in files if p.suffix == ".json"]
        jsonl_files = [p for p in files if p.suffix == ".jsonl"]
        origins = project_roots(files)
        params: dict[str, object] = {
            "origin_files": list(origins),
            "origin_paths": list(origins.values()),
        }
        if json_files:
            params["json_files"] = json_files
        if jsonl_files:
            params["jsonl_files"] = [str(p) for p in jsonl_files]
            params["max_object_size"] = largest_line_bound(jsonl_files)
        return BulkSpec(
            target="usage",
            select=build_select(has_json=bool(json_files), has_jsonl=bool(jsonl_files)),
            params=params,
            provider=self.provider,
            provider_name=self.provider_name,
        )

    def malformed_lines(self, path: Path) -> list[int]:
        if path.suffix == ".json":
            return malformed_session_lines(path)
        return malformed_json_lines(path)
