"""POST /v1/respond over the real ASGI stack, with the LLM settings pointing at the scripted
double (the real ``openai`` client inside Lucy talks to it over loopback HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lucy.api import create_app
from lucy.capability_index.service import CapabilityIndex
from lucy.eval.traces import queries_from_traces
from lucy.testing import Call, ScriptedLLM, Text, ToolCalls

CALENDAR = "GOOGLECALENDAR_LIST_EVENTS"


def test_respond_without_an_llm_is_503_saying_what_to_set(demo_index: CapabilityIndex) -> None:
    with TestClient(create_app(demo_index.settings, index=demo_index)) as client:
        r = client.post(
            "/v1/respond",
            json={"workspace_id": "demo", "thread": [{"role": "user", "content": "hi"}]},
        )
    assert r.status_code == 503
    error = r.json()["error"]
    assert error["type"] == "LLMNotConfiguredError"
    assert "LUCY_LLM_BASE_URL" in error["message"] and "LUCY_LLM_MODEL" in error["message"]


@pytest.fixture
def llm() -> ScriptedLLM:
    turns = [
        ToolCalls([Call(CALENDAR, {"max_results": 2})]),
        Text("**Today**: [standup](https://example.org/s) & more"),
    ]
    with ScriptedLLM(turns) as scripted:
        yield scripted


def _client(demo_index: CapabilityIndex, llm: ScriptedLLM, traces: Path) -> TestClient:
    settings = demo_index.settings.model_copy(
        update={
            "llm_base_url": llm.base_url,
            "llm_model": llm.model,
            "llm_api_key": None,
            "trace_path": traces,
        }
    )
    return TestClient(create_app(settings, index=demo_index))


def test_respond_answers_traces_and_logs(
    demo_index: CapabilityIndex, llm: ScriptedLLM, tmp_path: Path
) -> None:
    traces = tmp_path / "traces.jsonl"
    body = {
        "workspace_id": "demo",
        "user_id": "U1",
        "thread": [{"role": "user", "content": "what's on my calendar today?"}],
        "format": "slack",
    }
    with _client(demo_index, llm, traces) as client:
        r = client.post("/v1/respond", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["text"] == "*Today*: <https://example.org/s|standup> &amp; more"
    assert set(out["flags"]) == {
        "fallback_used",
        "connection_required",
        "outcome_unknown",
        "completeness_qualified",
        "loop_broken",
        "budget_exhausted",
    }
    trace = out["trace"]
    assert trace["stages"][0] == 1
    assert CALENDAR in {t["slug"] for t in trace["offered"]}
    assert CALENDAR in llm.offered_tools(0)
    call = trace["calls"][0]
    assert call["slug"] == CALENDAR and call["ok"] and call["executed"] and call["stage"] == 1
    assert trace["timings"]["total_ms"] >= trace["timings"]["planner_ms"]
    rows, problems = queries_from_traces(traces, {CALENDAR})
    assert problems == []
    assert rows == [
        {
            "id": f"trace-{trace['request_id']}",
            "query": "what's on my calendar today?",
            "relevant": [CALENDAR],
        }
    ]


@pytest.mark.parametrize(
    ("thread", "field"),
    [
        ([], "thread"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], "thread"),
        ([{"role": "system", "content": "hi"}], "thread.0.role"),
        ([{"role": "user", "content": "   "}], "thread"),
    ],
)
def test_bad_threads_are_422(
    demo_index: CapabilityIndex, llm: ScriptedLLM, tmp_path: Path, thread: list, field: str
) -> None:
    with _client(demo_index, llm, tmp_path / "t.jsonl") as client:
        r = client.post("/v1/respond", json={"workspace_id": "demo", "thread": thread})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    assert llm.requests == []


def test_bad_workspace_id_is_422(
    demo_index: CapabilityIndex, llm: ScriptedLLM, tmp_path: Path
) -> None:
    with _client(demo_index, llm, tmp_path / "t.jsonl") as client:
        r = client.post(
            "/v1/respond",
            json={
                "workspace_id": "no spaces/allowed",
                "thread": [{"role": "user", "content": "x"}],
            },
        )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "workspace_id"
