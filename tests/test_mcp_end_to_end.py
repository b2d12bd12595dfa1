"""End to end on loopback with real MCP servers: ``lucy index build`` indexes their tools,
``lucy retrieve`` ranks one first for a natural request (and hides a server the workspace may
not use), and a ``/v1/respond`` turn executes it through the scripted LLM."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lucy.api import create_app
from lucy.cli import app
from lucy.models import TraceRecord
from lucy.settings import Settings
from lucy.store import Database, database_url
from lucy.testing import Call, ScriptedLLM, Text, ToolCalls
from tests.mcp_servers import npm_server_bin


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    shared = tmp_path_factory.mktemp("shared")
    (shared / "notes.txt").write_text("launch is on friday\n")
    servers = {
        "time": {"command": [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]},
        "everything": {"command": [npm_server_bin("mcp-server-everything"), "stdio"]},
        "files": {
            "command": [npm_server_bin("mcp-server-filesystem"), str(shared)],
            "workspaces": ["T1"],
        },
    }
    yield {
        "LUCY_DATA_DIR": str(tmp_path_factory.mktemp("mcp-e2e")),
        "LUCY_DEMO_CATALOG": "false",
        "LUCY_MCP_SERVERS": json.dumps(servers),
    }


def lucy(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def built(env: dict[str, str]) -> dict[str, str]:
    out = lucy(env, "index", "build")
    assert "re-embedded" in out
    return env


def test_build_indexes_every_servers_tools(built: dict[str, str]) -> None:
    status = json.loads(lucy(built, "index", "status", "--json"))
    assert status["tools_by_provider"].keys() == {"mcp"}
    assert status["toolkits"] == 3 and status["tools"] >= 20


def test_retrieve_ranks_the_time_tool_first(built: dict[str, str]) -> None:
    body = json.loads(
        lucy(built, "retrieve", "what's the current time in Tokyo?", "--json", "-w", "T2")
    )
    assert body["candidates"][0]["slug"] == "TIME_GET_CURRENT_TIME"
    read = json.loads(
        lucy(built, "retrieve", "read the file notes.txt", "--json", "-w", "T2", "-k", "10")
    )
    assert all(c["toolkit"] != "files" for c in read["candidates"])  # T2 may not use it
    allowed = json.loads(
        lucy(built, "retrieve", "read the file notes.txt", "--json", "-w", "T1", "-k", "3")
    )
    assert any(c["toolkit"] == "files" for c in allowed["candidates"])


def test_a_respond_turn_runs_the_mcp_tool(built: dict[str, str], monkeypatch) -> None:
    for key, value in built.items():
        monkeypatch.setenv(key, value)
    turns = [
        ToolCalls([Call("TIME_GET_CURRENT_TIME", {"timezone": "Asia/Tokyo"})]),
        Text("It is evening in Tokyo."),
    ]
    with ScriptedLLM(turns) as llm:
        settings = Settings(llm_base_url=llm.base_url, llm_model=llm.model)
        with TestClient(create_app(settings)) as client:
            reply = client.post(
                "/v1/respond",
                json={
                    "workspace_id": "T2",
                    "thread": [{"role": "user", "content": "what time is it in Tokyo?"}],
                },
            )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        call = body["trace"]["calls"][0]
        assert call["slug"] == "TIME_GET_CURRENT_TIME" and call["ok"] and call["executed"]
        assert call["provider"] == "mcp"
        fed_back = [m for m in llm.requests[-1]["messages"] if m["role"] == "tool"]
        assert "Asia/Tokyo" in fed_back[0]["content"]
        assert body["text"] == "It is evening in Tokyo."
        logged = asyncio.run(stored_traces(Path(built["LUCY_DATA_DIR"])))[-1]
        assert logged.tool_calls[0].provider == "mcp"  # the trace record, in the database


async def stored_traces(data_dir: Path) -> list[TraceRecord]:
    async with await Database.open(database_url(None, data_dir)) as db:
        return await db.traces.read()


def test_an_eval_set_from_the_databases_traces(built: dict[str, str], tmp_path) -> None:
    """After the respond turn above: the stored trace becomes an eval query."""
    lucy(built, "eval", "from-traces", "--out", str(tmp_path / "set"))
    text = (tmp_path / "set" / "queries.jsonl").read_text()
    queries = [json.loads(line) for line in text.splitlines()]
    assert {
        "query": "what time is it in Tokyo?",
        "relevant": ["TIME_GET_CURRENT_TIME"],
    }.items() <= (queries[-1].items())
