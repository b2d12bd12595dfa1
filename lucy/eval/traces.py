"""Eval queries from real traffic: the planner appends one ``TraceRecord`` per /v1/respond
request to a JSONL file; ``queries_from_traces`` turns the tools that were called successfully
into ``queries.jsonl`` rows (``{"id", "query", "relevant"}``) for ``lucy eval``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lucy.errors import InvalidRequestError
from lucy.models import TRACE_VERSION, TraceRecord, TraceToolCall

__all__ = ["TRACE_VERSION", "TraceRecord", "TraceToolCall", "queries_from_traces", "write_queries"]


def queries_from_traces(
    trace_file: Path, known_slugs: set[str], *, min_calls: int = 1
) -> tuple[list[dict[str, Any]], list[str]]:
    """``queries.jsonl`` rows from a trace file, and the problems met (``"line N: ..."``).

    A record becomes ``{"id": "trace-<request_id>", "query", "relevant"}`` where ``relevant``
    lists the slugs of its successful calls that are in ``known_slugs``, once each, in call
    order; records with fewer than ``min_calls`` such slugs, empty queries, reused request ids
    and lines that are not trace records are skipped and reported; unknown slugs are dropped
    and reported. Rows with the same query and relevant tools as an earlier row are left out
    silently. Never fails on file content; ``InvalidRequestError`` if the file is missing."""
    if min_calls < 1:
        raise InvalidRequestError("min_calls must be at least 1", field="min_calls")
    if not trace_file.is_file():
        raise InvalidRequestError(f"{trace_file} does not exist", field="traces")
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    seen_pairs: set[tuple[str, tuple[str, ...]]] = set()
    seen_ids: set[str] = set()
    with trace_file.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            record = _parse(raw, number, problems)
            if record is None:
                continue
            where = f"line {number}: request {record.request_id}"
            query = record.query.strip()
            succeeded = list(dict.fromkeys(c.slug for c in record.tool_calls if c.ok))
            unknown = [s for s in succeeded if s not in known_slugs]
            relevant = tuple(s for s in succeeded if s in known_slugs)
            if unknown:
                problems.append(f"{where}: dropped unknown tools {unknown}")
            if not query:
                problems.append(f"{where}: empty query, skipped")
            elif len(relevant) < min_calls:
                problems.append(
                    f"{where}: {len(relevant)} successful calls of known tools "
                    f"(need {min_calls}), skipped"
                )
            elif record.request_id in seen_ids:
                problems.append(f"{where}: request id seen before, skipped")
            elif (query, relevant) not in seen_pairs:
                seen_pairs.add((query, relevant))
                seen_ids.add(record.request_id)
                rows.append(
                    {"id": f"trace-{record.request_id}", "query": query, "relevant": list(relevant)}
                )
    return rows, problems


def _parse(raw: bytes, number: int, problems: list[str]) -> TraceRecord | None:
    if not raw.strip():
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        problems.append(f"line {number}: not UTF-8, skipped")
        return None
    except json.JSONDecodeError as exc:
        problems.append(f"line {number}: not JSON ({exc.msg}), skipped")
        return None
    try:
        return TraceRecord.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        problems.append(f"line {number}: not a trace record ({where}: {first['msg']}), skipped")
        return None


def write_queries(rows: Iterable[dict[str, Any]], path: Path) -> None:
    """Write rows as ``queries.jsonl`` (one JSON object a line), creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
