"""Codex CLI session logs: tokens per model call, priced offline as OpenAI usage.

Reads the rollout files ``*.jsonl`` under ``sessions/`` (dated sub-folders) and
``archived_sessions/`` (flat) of ``$CODEX_HOME``, which may be a comma-separated list
and defaults to ``~/.codex``; a source's ``paths`` (CODEX_HOME-like folders) replace
them. No key or permission is needed. Only usage fields are read (line type and
time, session ids, working folder, model, token counters): no prompt, answer or
instruction text leaves the file.

Usage comes from ``event_msg`` lines of type ``token_count``, whose
``info.total_token_usage`` is cumulative per session. The traps handled:

- A turn is the growth of that cumulative total over the highest total seen before
  it in the file, not the ``last_token_usage`` it reports: the CLI re-emits the same
  total (rate-limit updates), and such a repeat adds nothing; nor does a stale
  snapshot below the highest total. A total that falls back to zero (the CLI resets
  it when the context window overflows) starts the count afresh.
- A forked session or a spawned subagent starts its file with its own
  ``session_meta`` (naming the parent in ``forked_from_id`` or
  ``source.subagent.thread_spawn.parent_thread_id``), then replays the parent's
  rollout as it was, at the fork's time or the original one: the parent's
  ``session_meta`` lines and every ``token_count`` with the parent's cumulative
  totals. Its own turns continue from the last replayed total, which is therefore
  the fork's baseline. Each counted turn is keyed on the session family's root (the
  last ancestor ``session_meta`` ahead of the first turn, else the named parent,
  else the session itself) and its cumulative total, so a replayed turn has the key
  of the parent's original and the store keeps one of them, the earliest: the
  parent's. A fork whose parent log is gone still counts the replayed turns once.
  A file's first ``token_count`` counts its ``last_token_usage``, so a fork that
  inherits the parent's total without replaying it does not bill that total again.
- The same rollout in ``sessions/`` and ``archived_sessions/`` gives the same keys
  and counts once.
- Units are OpenAI's: ``input_tokens`` includes ``cached_input_tokens`` and
  ``output_tokens`` includes ``reasoning_output_tokens``. Stored input excludes the
  cached part, which is stored as cache reads; output is stored as reported. A turn
  whose cached input grew more than its input is a data error (``negative``), never
  priced.
- The model of a turn is that of the most recent ``turn_context`` line before it in
  the file; a turn with none is kept unpriced, never at $0.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from collectors.logfiles import AgentLogCollector, malformed_json_lines, sql_columns

SESSION_DIRS = ("sessions", "archived_sessions")

_USAGE = (
    "STRUCT(input_tokens BIGINT, cached_input_tokens BIGINT, output_tokens BIGINT, "
    "reasoning_output_tokens BIGINT)"
)
# Typed structs read only these fields: a line's text never enters DuckDB, and a
# field of an unexpected type reads as NULL instead of spoiling the line.
_COLUMNS = sql_columns(
    {
        "type": "VARCHAR",
        "timestamp": "VARCHAR",
        "record_type": "VARCHAR",
        "id": "VARCHAR",
        "payload": "STRUCT(type VARCHAR, id VARCHAR, forked_from_id VARCHAR, "
        "cwd VARCHAR, model VARCHAR, "
        "source STRUCT(subagent STRUCT(thread_spawn STRUCT("
        "parent_thread_id VARCHAR))), "
        f"info STRUCT(total_token_usage {_USAGE}, last_token_usage {_USAGE}))",
    }
)

_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

# ``seq`` is a line's place in the scan, which DuckDB keeps in file order: it orders
# a file's lines where timestamps tie (a fork's replay shares one instant). A turn
# is the growth of the cumulative counters over the highest values seen earlier in
# the file; ``generation`` counts the resets to zero. ``rank`` lets a line that adds
# tokens beat a repeat of it; between equal copies the store keeps the earliest.
# TODO(qoins): a fork of a fork whose file does not carry its ancestors'
# session_meta lines is keyed on its direct parent only, so the turns it replays
# from the grandparent are counted a second time.
# TODO(qoins): the fast/priority service tier is not in the logs and config.toml's
# service_tier is not read; such turns are priced at standard rates, too low.
_SELECT = f"""
WITH lines AS MATERIALIZED (
    SELECT filename,
        row_number() OVER () AS seq,
        type,
        try_cast(timestamp AS TIMESTAMPTZ) AS ts,
        payload.type AS event,
        nullif(payload.id, '') AS meta_id,
        coalesce(nullif(payload.forked_from_id, ''),
                 nullif(payload.source.subagent.thread_spawn.parent_thread_id, ''))
            AS parent_id,
        nullif(payload.cwd, '') AS cwd,
        nullif(trim(payload.model), '') AS model,
        payload.info.total_token_usage AS total,
        payload.info.last_token_usage AS last,
        type IS NULL AND timestamp IS NULL AND payload IS NULL
            AND record_type IS NULL AND id IS NULL AS broken
    FROM read_json($files, format = 'newline_delimited', ignore_errors = true,
                   filename = true, maximum_object_size = $max_object_size,
                   columns = {_COLUMNS})
), first_turn AS (
    SELECT filename, min(seq) AS seq FROM lines
    WHERE type = 'turn_context' GROUP BY filename
), opening AS (
    SELECT m.filename, m.seq, m.meta_id, m.parent_id, m.cwd,
        row_number() OVER (PARTITION BY m.filename ORDER BY m.seq) AS nth
    FROM lines m LEFT JOIN first_turn f ON f.filename = m.filename
    WHERE m.type = 'session_meta' AND m.meta_id IS NOT NULL
      AND (f.seq IS NULL OR m.seq < f.seq)
), own AS (
    SELECT filename, meta_id, parent_id, cwd FROM opening WHERE nth = 1
), ancestor AS (
    SELECT o.filename, max_by(o.meta_id, o.seq) AS root_id
    FROM opening o JOIN own s ON s.filename = o.filename
    WHERE o.meta_id <> s.meta_id
    GROUP BY o.filename
), sessions AS (
    SELECT f.filename,
        coalesce(s.meta_id,
                 nullif(regexp_extract(f.filename, '({_UUID})\\.jsonl$', 1), ''),
                 regexp_extract(f.filename, '([^/\\\\]+?)(\\.jsonl)?$', 1))
            AS session_id,
        s.cwd AS session_cwd
    FROM (SELECT DISTINCT filename FROM lines) f
    LEFT JOIN own s ON s.filename = f.filename
), families AS (
    SELECT x.filename, x.session_id, x.session_cwd,
        coalesce(a.root_id, s.parent_id, x.session_id) AS root_id
    FROM sessions x
    LEFT JOIN own s ON s.filename = x.filename
    LEFT JOIN ancestor a ON a.filename = x.filename
), counters AS (
    SELECT filename, seq, last,
        coalesce(total.input_tokens, 0) AS t_in,
        coalesce(total.cached_input_tokens, 0) AS t_cached,
        coalesce(total.output_tokens, 0) AS t_out,
        coalesce(total.reasoning_output_tokens, 0) AS t_reason,
        coalesce(total.input_tokens, 0) = 0
            AND coalesce(total.cached_input_tokens, 0) = 0
            AND coalesce(total.output_tokens, 0) = 0 AS restart
    FROM lines
    WHERE type = 'event_msg' AND event = 'token_count' AND total IS NOT NULL
), generations AS (
    SELECT *,
        count(*) FILTER (WHERE restart) OVER (PARTITION BY filename ORDER BY seq)
            AS generation
    FROM counters
), marks AS (
    SELECT *,
        max(t_in) OVER before AS w_in,
        max(t_cached) OVER before AS w_cached,
        max(t_out) OVER before AS w_out,
        max(t_reason) OVER before AS w_reason,
        lag(t_in) OVER turns AS p_in,
        lag(t_cached) OVER turns AS p_cached,
        lag(t_out) OVER turns AS p_out,
        lag(t_reason) OVER turns AS p_reason
    FROM generations
    WINDOW before AS (PARTITION BY filename, generation ORDER BY seq
                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
           turns AS (PARTITION BY filename, generation ORDER BY seq)
), deltas AS (
    SELECT *,
        CASE WHEN w_in IS NOT NULL THEN greatest(t_in - w_in, 0)
             WHEN last IS NULL THEN t_in
             ELSE coalesce(last.input_tokens, 0) END AS d_in,
        CASE WHEN w_in IS NOT NULL THEN greatest(t_cached - w_cached, 0)
             WHEN last IS NULL THEN t_cached
             ELSE coalesce(last.cached_input_tokens, 0) END AS d_cached,
        CASE WHEN w_in IS NOT NULL THEN greatest(t_out - w_out, 0)
             WHEN last IS NULL THEN t_out
             ELSE coalesce(last.output_tokens, 0) END AS d_out,
        CASE WHEN w_in IS NOT NULL THEN greatest(t_reason - w_reason, 0)
             WHEN last IS NULL THEN t_reason
             ELSE coalesce(last.reasoning_output_tokens, 0) END AS d_reason,
        (t_in, t_cached, t_out, t_reason) = (p_in, p_cached, p_out, p_reason)
            AND (t_in, t_cached, t_out, t_reason) = (w_in, w_cached, w_out, w_reason)
            AS repeated
    FROM marks
), contexts AS (
    SELECT filename, seq, model, cwd FROM lines WHERE type = 'turn_context'
), turns AS (
    SELECT d.*, c.model, c.cwd
    FROM deltas d ASOF LEFT JOIN contexts c
      ON c.filename = d.filename AND d.seq >= c.seq
)
SELECT l.filename,
    CASE
        WHEN l.broken THEN 'malformed'
        WHEN t.seq IS NULL THEN 'other'
        WHEN l.ts IS NULL THEN 'malformed'
        WHEN t.restart THEN 'other'
        WHEN least(t.d_in, t.d_cached, t.d_out, t.d_reason) < 0
             OR t.d_in - t.d_cached < 0 THEN 'negative'
        WHEN t.d_in + t.d_out > 0 THEN 'usage'
        WHEN t.repeated THEN 'usage'
        ELSE 'other'
    END AS kind,
    'codex:' || f.root_id || ':' || t.generation || ':' || t.t_in || ':'
        || t.t_cached || ':' || t.t_out || ':' || t.t_reason AS record_key,
    l.ts,
    t.model,
    t.d_in - t.d_cached AS input_tokens,
    t.d_cached AS cache_read_tokens,
    0 AS cache_write_5m_tokens,
    0 AS cache_write_1h_tokens,
    t.d_out AS output_tokens,
    CAST((t.d_in + t.d_out) * 2 + CASE WHEN t.model IS NULL THEN 0 ELSE 1 END
        AS DOUBLE) AS rank,
    coalesce(t.cwd, f.session_cwd) AS origin,
    f.session_id
FROM lines l
LEFT JOIN turns t ON t.filename = l.filename AND t.seq = l.seq
LEFT JOIN families f ON f.filename = l.filename
"""


def codex_homes(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Every CODEX_HOME entry (a comma-separated list), else ``~/.codex``."""
    env = os.environ if environ is None else environ
    configured = env.get("CODEX_HOME", "").strip()
    if configured:
        return [
            Path(entry.strip()).expanduser()
            for entry in configured.split(",")
            if entry.strip()
        ]
    return [Path(env.get("HOME") or Path.home()) / ".codex"]


def session_dirs(homes: Iterable[Path]) -> list[Path]:
    """The sessions and archived_sessions folders of each home.

    A folder that is itself one of them is taken as it is.
    """
    dirs = []
    for home in homes:
        if home.name in SESSION_DIRS:
            dirs.append(home)
        else:
            dirs.extend(home / name for name in SESSION_DIRS)
    return dirs


def default_session_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where the Codex CLI keeps its rollouts, for every CODEX_HOME entry."""
    return session_dirs(codex_homes(environ))


class CodexCollector(AgentLogCollector):
    type = "codex"
    title = "Codex CLI logs"
    select = _SELECT
    provider = "openai"
    provider_name = "OpenAI"
    ordered = True

    @classmethod
    def default_roots(cls) -> list[Path]:
        return default_session_dirs()

    @classmethod
    def roots_from(cls, paths: Iterable[Path]) -> list[Path]:
        return session_dirs(paths)

    def malformed_lines(self, path: Path) -> list[int]:
        # Rollouts older than the typed lines have objects without "type" (the
        # opening id line, state records); only a line that is no JSON object at
        # all is malformed, as in the SELECT.
        return malformed_json_lines(path)
