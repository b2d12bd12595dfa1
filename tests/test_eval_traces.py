"""Eval queries mined from planner traces: good lines, bad lines, failed and unknown tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lucy.errors import InvalidRequestError
from lucy.eval.datasets import load_dataset
from lucy.eval.traces import TraceRecord, queries_from_traces, write_queries

KNOWN = {"gmail_send", "invoice_create", "weather_get", "calendar_add"}


def record(request_id: str, query: str, *calls: tuple[str, bool], **extra: Any) -> str:
    row = {
        "version": 1,
        "ts": "2025-03-01T12:00:00+00:00",
        "request_id": request_id,
        "workspace_id": "ws1",
        "user_id": None,
        "query": query,
        "index_version": "v3",
        "tool_calls": [
            {
                "slug": slug,
                "ok": ok,
                "error_kind": None if ok else "timeout",
                "stage": 1 if i == 0 else 2,
            }
            for i, (slug, ok) in enumerate(calls)
        ],
        "final_text_ok": True,
        **extra,
    }
    return json.dumps(row)


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    lines = [
        record("r1", "bill Ann and email her", ("invoice_create", True), ("gmail_send", True)),
        "{this is not json",
        record("r3", "weather tomorrow?", ("weather_get", False)),
        record("r4", "email Bob", ("crm_lookup", True), ("gmail_send", True)),
        # the same query and tools again (gmail_send called twice): left out silently
        record(
            "r5",
            "bill Ann and email her",
            ("invoice_create", True),
            ("gmail_send", True),
            ("invoice_create", True),
        ),
        record("r6", "  add lunch to my calendar ", ("weather_get", False), ("calendar_add", True)),
        record("r7", "weather in Oslo", ("weather_get", True), planner="v2", cost={"usd": 0.01}),
        json.dumps({"version": 1, "query": "no ids"}),
        "",
        record("r1", "a reused request id", ("weather_get", True)),
    ]
    path = tmp_path / "traces.jsonl"
    data = "\n".join(lines).encode() + b"\n\xff\xfe not utf-8\n"
    path.write_bytes(data)
    return path


def test_rows_from_traces(trace_file: Path) -> None:
    rows, _ = queries_from_traces(trace_file, KNOWN)
    assert rows == [
        {
            "id": "trace-r1",
            "query": "bill Ann and email her",
            "relevant": ["invoice_create", "gmail_send"],
        },
        {"id": "trace-r4", "query": "email Bob", "relevant": ["gmail_send"]},
        {"id": "trace-r6", "query": "add lunch to my calendar", "relevant": ["calendar_add"]},
        {"id": "trace-r7", "query": "weather in Oslo", "relevant": ["weather_get"]},
    ]


def test_problems_name_lines_and_reasons(trace_file: Path) -> None:
    _, problems = queries_from_traces(trace_file, KNOWN)
    assert len(problems) == 6
    assert problems[0].startswith("line 2: not JSON")
    assert problems[1] == (
        "line 3: request r3: 0 successful calls of known tools (need 1), skipped"
    )
    assert problems[2] == "line 4: request r4: dropped unknown tools ['crm_lookup']"
    assert problems[3].startswith("line 8: not a trace record (")
    assert problems[4] == "line 10: request r1: request id seen before, skipped"
    assert problems[5] == "line 11: not UTF-8, skipped"


def test_min_calls(trace_file: Path) -> None:
    rows, problems = queries_from_traces(trace_file, KNOWN, min_calls=2)
    assert [r["id"] for r in rows] == ["trace-r1"]
    assert any("line 7: request r7: 1 successful calls" in p for p in problems)
    with pytest.raises(InvalidRequestError):
        queries_from_traces(trace_file, KNOWN, min_calls=0)


def test_missing_trace_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="does not exist"):
        queries_from_traces(tmp_path / "nope.jsonl", KNOWN)


def test_trace_record_ignores_new_fields_and_checks_old_ones() -> None:
    parsed = TraceRecord.model_validate_json(record("r9", "q", ("a", True), later="x"))
    assert parsed.tool_calls[0].slug == "a"
    assert parsed.tool_calls[0].stage == 1
    assert parsed.user_id is None
    bad_stage = json.loads(record("r9", "q", ("a", True)))
    bad_stage["tool_calls"][0]["stage"] = 3
    with pytest.raises(ValidationError):
        TraceRecord.model_validate(bad_stage)
    with pytest.raises(ValidationError):
        TraceRecord.model_validate_json(record("r9", "q", ts="yesterday"))


def test_written_queries_load_as_a_dataset(trace_file: Path, tmp_path: Path) -> None:
    rows, _ = queries_from_traces(trace_file, KNOWN)
    folder = tmp_path / "mined"
    write_queries(rows, folder / "queries.jsonl")
    tools = [{"name": slug, "description": f"{slug} tool"} for slug in sorted(KNOWN)]
    (folder / "tools.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tools))
    dataset = load_dataset(folder)
    assert dataset.problems == []
    assert [(q.id, q.relevant) for q in dataset.queries] == [
        (r["id"], tuple(r["relevant"])) for r in rows
    ]
