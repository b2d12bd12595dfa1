"""Lucy as an MCP server: the SDK's own client over real HTTP on loopback, against the app's
``/mcp`` mount (search_tools, call_tool through the guards and the executor, DNS-rebinding
protection)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp import Client

from lucy.api import create_app
from lucy.capability_index.service import CapabilityIndex
from lucy.testing.loopback import LoopbackServer

WORKSPACE = "MCPW1"  # owned by this module: only github connected


@pytest.fixture(scope="module")
def server(demo_index: CapabilityIndex) -> Iterator[LoopbackServer]:
    demo_index.connect(WORKSPACE, ["github"])
    with LoopbackServer(create_app(demo_index.settings, index=demo_index)) as running:
        yield running


def call(server: LoopbackServer, tool: str, arguments: dict[str, Any]) -> Any:
    async def go() -> Any:
        async with Client(f"{server.url}/mcp/") as client:
            return await client.call_tool(tool, arguments)

    return asyncio.run(go())


def error_of(result: Any) -> dict[str, Any]:
    assert result.is_error
    body: dict[str, Any] = json.loads(result.content[0].text)
    return body


def test_the_server_offers_search_and_call(server: LoopbackServer) -> None:
    async def go() -> Any:
        async with Client(f"{server.url}/mcp") as client:  # without the slash too
            return await client.list_tools()

    tools = {t.name: t for t in asyncio.run(go()).tools}
    assert set(tools) == {"search_tools", "call_tool"}
    assert tools["search_tools"].annotations is not None
    assert tools["search_tools"].annotations.read_only_hint is True
    assert "workspace_id" in tools["call_tool"].input_schema["required"]


def test_search_tools_is_retrieve_for_the_callers_workspace(server: LoopbackServer) -> None:
    result = call(server, "search_tools", {"query": "list open issues", "workspace_id": WORKSPACE})
    assert not result.is_error
    body = result.structured_content
    assert body["candidates"] and {c["toolkit"] for c in body["candidates"]} == {"github"}
    demo = call(server, "search_tools", {"query": "what's on my calendar", "workspace_id": "demo"})
    assert demo.structured_content["candidates"][0]["toolkit"] == "googlecalendar"


def test_call_tool_runs_a_connected_tool(server: LoopbackServer) -> None:
    args = {"owner": "acme", "repo": "web"}
    result = call(
        server,
        "call_tool",
        {"slug": "GITHUB_LIST_ISSUES", "workspace_id": WORKSPACE, "arguments": args},
    )
    assert not result.is_error, result.content
    body = result.structured_content
    assert body["slug"] == "GITHUB_LIST_ISSUES" and body["provider"] == "demo"
    assert isinstance(body["data"], (list, dict)) and body["data"]


def test_call_tool_refuses_an_unconnected_toolkit(server: LoopbackServer) -> None:
    result = call(
        server, "call_tool", {"slug": "GOOGLECALENDAR_LIST_EVENTS", "workspace_id": WORKSPACE}
    )
    error = error_of(result)
    assert error["error"] == "connection_required" and error["toolkit"] == "googlecalendar"
    assert error["user_message"]


def test_call_tool_refuses_bad_arguments_and_unknown_tools(server: LoopbackServer) -> None:
    bad = call(
        server,
        "call_tool",
        {"slug": "GITHUB_LIST_ISSUES", "workspace_id": WORKSPACE, "arguments": {"owner": 3}},
    )
    error = error_of(bad)
    assert error["error"] == "invalid_arguments"
    assert any("repo" in p for p in error["problems"])
    unknown = error_of(
        call(server, "call_tool", {"slug": "NOPE_NOTHING", "workspace_id": WORKSPACE})
    )
    assert unknown["error"] == "UnknownToolError" and unknown["field"] == "slug"
    malformed = error_of(call(server, "search_tools", {"query": "hi", "workspace_id": "bad id!"}))
    assert malformed["field"] == "workspace_id"


def test_a_foreign_host_header_is_refused(server: LoopbackServer) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "probe", "version": "0"},
        },
    }
    headers = {"accept": "application/json, text/event-stream"}
    with httpx.Client() as http:
        evil = http.post(
            f"{server.url}/mcp/", json=initialize, headers={**headers, "host": "evil.example"}
        )
        assert evil.status_code == 421
        ok = http.post(f"{server.url}/mcp/", json=initialize, headers=headers)
        assert ok.status_code == 200
