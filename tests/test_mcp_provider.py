"""MCPProvider against real MCP servers: PyPI ``mcp-server-time``, npm ``server-everything``
(stdio and streamable HTTP) and ``server-filesystem``, and a tiny ``MCPServer`` of our own
that changes its tool list on request (``tests/mcp_servers.py``).

The servers start once per module, in one event loop (an ``asyncio.Runner``) that every test
runs its coroutines in: the provider belongs to the loop that first used it.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest

from lucy.errors import BackendUnavailableError, ConfigurationError
from lucy.models import SourceListing, ToolErrorKind, ToolSpec
from lucy.providers.base import CallContext, ProviderCallError
from lucy.providers.executor import ToolExecutor
from lucy.providers.mcp import MCPProvider, tool_slug, tool_spec
from lucy.providers.mcp.mapping import humanise
from lucy.providers.mcp.results import data_of, failure_of
from lucy.settings import MCPServerConfig, Settings
from tests.mcp_servers import (
    GROWING_SERVER,
    child_pids,
    everything_over_http,
    free_port,
    npm_server_bin,
)

FS_WORKSPACE = "T0FILES"
TIME_SERVER = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop_runner:
        yield loop_runner


@pytest.fixture(scope="module")
def fs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp-fs").resolve()


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with everything_over_http() as url:
        yield url


@pytest.fixture(scope="module")
def changes() -> list[str]:
    """Toolkits ``on_tools_changed`` was called with, in order."""
    return []


@pytest.fixture(scope="module")
def provider(
    runner: asyncio.Runner, fs_root: Path, http_url: str, changes: list[str]
) -> Iterator[MCPProvider]:
    servers = {
        "time": MCPServerConfig(command=TIME_SERVER),
        "everything": MCPServerConfig(command=[npm_server_bin("mcp-server-everything"), "stdio"]),
        "everything-http": MCPServerConfig(url=http_url),
        "fs": MCPServerConfig(
            command=[npm_server_bin("mcp-server-filesystem"), str(fs_root)],
            name="Files",
            workspaces=[FS_WORKSPACE],
        ),
        "growing": MCPServerConfig(command=GROWING_SERVER),
    }
    mcp = MCPProvider(servers, on_tools_changed=changes.append)
    yield mcp
    runner.run(mcp.aclose())


@pytest.fixture(scope="module")
def listing(runner: asyncio.Runner, provider: MCPProvider) -> SourceListing:
    return runner.run(provider.list_tools())


def tools_of(listing: SourceListing, toolkit: str) -> dict[str, ToolSpec]:
    """The toolkit's tools by MCP name."""
    return {t.call_name: t for t in listing.tools if t.toolkit == toolkit}


def context(workspace_id: str = FS_WORKSPACE, seconds: float = 15.0) -> CallContext:
    return CallContext(workspace_id=workspace_id, user_id=None, deadline=time.monotonic() + seconds)


def call(
    runner: asyncio.Runner,
    provider: MCPProvider,
    tool: ToolSpec,
    arguments: dict[str, Any],
    workspace_id: str = FS_WORKSPACE,
) -> Any:
    return runner.run(provider.execute(tool, arguments, context(workspace_id)))


def failure(
    runner: asyncio.Runner,
    provider: MCPProvider,
    tool: ToolSpec,
    arguments: dict[str, Any],
    workspace_id: str = FS_WORKSPACE,
) -> ProviderCallError:
    with pytest.raises(ProviderCallError) as caught:
        call(runner, provider, tool, arguments, workspace_id)
    return caught.value


async def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait, with the loop running, until ``check()`` is true."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# -- listing and mapping -------------------------------------------------------------------


def test_each_server_is_one_toolkit_with_its_own_name(listing: SourceListing) -> None:
    infos = {info.toolkit: info for info in listing.toolkits}
    assert set(infos) == {"time", "everything", "everything_http", "fs", "growing"}
    assert infos["time"].name == "mcp-time"  # the server's own name from initialize
    assert infos["everything"].name == "Everything Reference Server"  # its title
    assert infos["fs"].name == "Files"  # configured
    assert infos["growing"].description == "Grows a tool on request."  # from instructions
    assert listing.provider == "mcp"


def test_lists_every_servers_tools(listing: SourceListing) -> None:
    assert {"get_current_time", "convert_time"} <= set(tools_of(listing, "time"))
    everything = set(tools_of(listing, "everything"))
    assert {"echo", "get-sum", "get-structured-content", "get-tiny-image"} <= everything
    assert everything == set(tools_of(listing, "everything_http"))
    # a tool that needs task-augmented execution cannot be called plainly: not offered
    assert "simulate-research-query" not in everything
    fs = set(tools_of(listing, "fs"))
    assert {"read_text_file", "write_file", "list_directory", "move_file"} <= fs
    slugs = [t.slug for t in listing.tools]
    assert len(slugs) == len(set(slugs))


def test_tools_map_to_tool_specs(listing: SourceListing) -> None:
    now = tools_of(listing, "time")["get_current_time"]
    assert now.slug == "TIME_GET_CURRENT_TIME"
    assert now.provider == "mcp" and now.remote_name == "get_current_time"
    assert now.name == "Get current time"  # no title: the name, humanised
    assert now.parameters["type"] == "object" and "timezone" in now.parameters["properties"]
    assert now.version == importlib.metadata.version("mcp-server-time")
    assert now.tags.verbs == () and now.tags.objects == ()  # the index derives them

    total = tools_of(listing, "everything_http")["get-sum"]
    assert total.slug == "EVERYTHING_HTTP_GET_SUM"
    assert total.name == "Get Sum Tool"  # the tool's title
    assert total.description


def test_annotations_set_read_only_and_destructive(listing: SourceListing) -> None:
    fs = tools_of(listing, "fs")
    read, write, mkdir = fs["read_text_file"], fs["write_file"], fs["create_directory"]
    assert (read.read_only, read.destructive) == (True, False)  # readOnlyHint
    assert (write.read_only, write.destructive) == (False, True)  # destructiveHint
    assert (mkdir.read_only, mkdir.destructive) == (False, False)  # both hints false
    assert tools_of(listing, "time")["get_current_time"].read_only


def test_slug_and_name_rules() -> None:
    assert tool_slug("everything", "trigger-long-running-operation") == (
        "EVERYTHING_TRIGGER_LONG_RUNNING_OPERATION"
    )
    assert tool_slug("fs", "read.file v2") == "FS_READ_FILE_V2"
    assert tool_slug("a_b", "--ünïcode--") == "A_B_N_CODE"
    assert humanise("getSum") == "Get sum"
    assert humanise("get_URL") == "Get URL"
    schemaless = types.Tool(name="ping", input_schema={})
    spec = tool_spec(schemaless, toolkit="x", version="1")
    assert spec.parameters == {"type": "object"}
    assert spec.description == "Ping" and not spec.read_only and not spec.destructive


def test_results_render_to_json() -> None:
    image = types.ImageContent(data="aGVsbG8=", mime_type="image/png")
    result = types.CallToolResult(
        content=[types.TextContent(text='{"items": [1], "next": "c2"}'), image]
    )
    assert data_of(result) == [
        {"items": [1], "next": "c2"},
        {"type": "image", "mime_type": "image/png", "bytes": 5},
    ]
    assert data_of(types.CallToolResult(content=[types.TextContent(text="[not json")])) == (
        "[not json"
    )
    failed = types.CallToolResult(content=[types.TextContent(text="disk full")], is_error=True)
    error = failure_of(failed, "write")
    assert error.kind is ToolErrorKind.EXECUTION_ERROR and str(error) == "disk full"


def test_same_toolkit_twice_is_refused() -> None:
    twice = {
        "a": MCPServerConfig(command=TIME_SERVER, toolkit="clock"),
        "b": MCPServerConfig(command=TIME_SERVER, toolkit="clock"),
    }
    with pytest.raises(ConfigurationError, match="'a' and 'b'"):
        MCPProvider(twice)


def test_from_settings_reads_lucy_mcp_servers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    servers = {"Time Server": {"command": TIME_SERVER}, "remote": {"url": "http://h:1/mcp"}}
    monkeypatch.setenv("LUCY_MCP_SERVERS", json.dumps(servers))
    provider = MCPProvider.from_settings(Settings(data_dir=tmp_path))
    assert provider.toolkits == {"time_server", "remote"}
    assert not provider.is_connected("time_server")  # nothing starts before first use


# -- execution -----------------------------------------------------------------------------


def test_executes_over_stdio_and_http(
    runner: asyncio.Runner, provider: MCPProvider, listing: SourceListing
) -> None:
    now = call(runner, provider, tools_of(listing, "time")["get_current_time"], {"timezone": "UTC"})
    assert now["timezone"] == "UTC" and now["datetime"].endswith("+00:00")  # structured content

    for toolkit in ("everything", "everything_http"):
        tools = tools_of(listing, toolkit)
        assert call(runner, provider, tools["echo"], {"message": "hi"}) == "Echo: hi"
        weather = call(runner, provider, tools["get-structured-content"], {"location": "Chicago"})
        assert {"temperature", "conditions", "humidity"} <= set(weather)
    image = call(runner, provider, tools_of(listing, "everything")["get-tiny-image"], {})
    assert {"type": "image", "mime_type": "image/png"}.items() <= image[1].items()


def test_filesystem_write_then_read(
    runner: asyncio.Runner, provider: MCPProvider, listing: SourceListing, fs_root: Path
) -> None:
    fs = tools_of(listing, "fs")
    note = fs_root / "note.txt"
    call(runner, provider, fs["write_file"], {"path": str(note), "content": "hello from lucy"})
    assert note.read_text() == "hello from lucy"
    assert call(runner, provider, fs["read_text_file"], {"path": str(note)}) == {
        "content": "hello from lucy"
    }


def test_tool_error_result_is_an_execution_error(
    runner: asyncio.Runner, provider: MCPProvider, listing: SourceListing
) -> None:
    now = tools_of(listing, "time")["get_current_time"]
    error = failure(runner, provider, now, {"timezone": "Mars/Olympus_Mons"})
    assert error.kind is ToolErrorKind.EXECUTION_ERROR
    assert "Invalid timezone" in str(error) and error.sent


def test_invalid_arguments_are_typed(
    runner: asyncio.Runner, provider: MCPProvider, listing: SourceListing
) -> None:
    python_sdk = failure(runner, provider, tools_of(listing, "time")["get_current_time"], {})
    assert python_sdk.kind is ToolErrorKind.INVALID_ARGUMENTS
    assert "timezone" in str(python_sdk)
    typescript_sdk = failure(runner, provider, tools_of(listing, "everything")["echo"], {"x": 1})
    assert typescript_sdk.kind is ToolErrorKind.INVALID_ARGUMENTS
    assert "message" in str(typescript_sdk)


def test_a_tool_the_server_dropped_marks_the_toolkit(
    runner: asyncio.Runner, provider: MCPProvider, listing: SourceListing
) -> None:
    echo = tools_of(listing, "everything_http")["echo"]
    gone = echo.model_copy(update={"slug": "EVERYTHING_HTTP_GONE", "remote_name": "gone"})
    provider.consume_changed_toolkits()
    error = failure(runner, provider, gone, {})
    assert error.kind is ToolErrorKind.UNKNOWN_TOOL
    assert provider.consume_changed_toolkits() == {"everything_http"}


def test_killed_stdio_server_is_started_again(
    runner: asyncio.Runner, provider: MCPProvider, listing: SourceListing
) -> None:
    now = tools_of(listing, "time")["get_current_time"]
    call(runner, provider, now, {"timezone": "UTC"})
    [pid] = child_pids("mcp_server_time --local-timezone UTC")
    os.kill(pid, 9)
    # the provider sees the process end (its stdout closes) while the loop runs
    runner.run(eventually(lambda: not provider.is_connected("time")))
    assert call(runner, provider, now, {"timezone": "UTC"})["timezone"] == "UTC"
    [restarted] = child_pids("mcp_server_time --local-timezone UTC")
    assert restarted != pid and provider.is_connected("time")


def test_tool_executor_runs_mcp_tools_and_rides_out_a_crash(
    runner: asyncio.Runner, provider: MCPProvider, listing: SourceListing
) -> None:
    executor = ToolExecutor([provider])
    now = tools_of(listing, "time")["get_current_time"]
    first = runner.run(executor.run(now, {"timezone": "UTC"}, context(), call_id="c1"))
    assert first.ok and first.data["timezone"] == "UTC" and first.attempts == 1

    [pid] = child_pids("mcp_server_time --local-timezone UTC")
    os.kill(pid, 9)  # and call at once: the crash may be noticed only by the call
    second = runner.run(executor.run(now, {"timezone": "UTC"}, context(), call_id="c2"))
    assert second.ok, second.error
    assert second.data["timezone"] == "UTC"

    invalid = runner.run(executor.run(now, {}, context(), call_id="c3"))
    assert invalid.error is not None and invalid.error.kind is ToolErrorKind.INVALID_ARGUMENTS
    assert invalid.attempts == 1


def test_tools_list_changed_marks_the_toolkit(
    runner: asyncio.Runner, provider: MCPProvider, listing: SourceListing, changes: list[str]
) -> None:
    growing = tools_of(listing, "growing")
    assert set(growing) == {"ping", "add_tool"}
    provider.consume_changed_toolkits()
    changes.clear()

    added = call(runner, provider, growing["add_tool"], {"name": "grown"})
    assert added == {"result": "added grown"}  # MCPServer wraps a str return as structured
    runner.run(eventually(lambda: "growing" in provider.changed_toolkits()))
    assert changes == ["growing"]
    assert provider.consume_changed_toolkits() == {"growing"}
    assert provider.changed_toolkits() == set()

    relisted = runner.run(provider.list_tools())
    grown = tools_of(relisted, "growing")["grown"]
    assert grown.slug == "GROWING_GROWN"
    assert call(runner, provider, grown, {}) == {"result": "pong"}


def test_colliding_slugs_get_a_stable_suffix(
    runner: asyncio.Runner, provider: MCPProvider, listing: SourceListing
) -> None:
    add_tool = tools_of(listing, "growing")["add_tool"]
    call(runner, provider, add_tool, {"name": "add-tool"})  # slug GROWING_ADD_TOOL again
    first, again = (runner.run(provider.list_tools()) for _ in range(2))
    slugs = {name: t.slug for name, t in tools_of(first, "growing").items()}
    assert slugs["add_tool"] == "GROWING_ADD_TOOL"  # listed first, keeps the plain slug
    assert slugs["add-tool"].startswith("GROWING_ADD_TOOL_") and len(slugs["add-tool"]) == 23
    assert {n: t.slug for n, t in tools_of(again, "growing").items()} == slugs
    added = tools_of(first, "growing")["add-tool"]
    assert call(runner, provider, added, {}) == {"result": "pong"}


# -- connections ---------------------------------------------------------------------------


def test_workspaces_gate_connected_toolkits(
    runner: asyncio.Runner, provider: MCPProvider, listing: SourceListing
) -> None:
    everyone = {"time", "everything", "everything_http", "growing"}
    assert provider.connected_toolkits(FS_WORKSPACE, None) == everyone | {"fs"}
    assert provider.connected_toolkits("T0OTHER", "U1") == everyone
    assert provider.own_toolkits(FS_WORKSPACE, None) == everyone | {"fs"}
    assert provider.own_toolkits(FS_WORKSPACE, "U1") == frozenset()  # a server is no one's own
    assert provider.connect_link("fs", "T0OTHER", None) is None

    listing_tool = tools_of(listing, "fs")["list_allowed_directories"]
    outside = failure(runner, provider, listing_tool, {}, workspace_id="T0OTHER")
    assert outside.kind is ToolErrorKind.CONNECTION_REQUIRED and not outside.sent


def test_supports_only_its_own_toolkits(provider: MCPProvider, listing: SourceListing) -> None:
    assert all(provider.supports(t) for t in listing.tools)
    demo = ToolSpec(slug="GITHUB_LIST_ISSUES", toolkit="github", name="List", description="")
    assert not provider.supports(demo)
    assert not provider.supports(demo.model_copy(update={"provider": "mcp"}))


# -- failures and lifecycle ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "said"),
    [
        (MCPServerConfig(command=["/nonexistent/mcp-server"]), "No such file"),
        (MCPServerConfig(command=[sys.executable, "-c", "pass"]), "Connection closed"),
        (MCPServerConfig(url="http://127.0.0.1:{port}/mcp", timeout_seconds=5), "ConnectError"),
    ],
    ids=["missing-command", "exits-at-once", "nothing-listening"],
)
def test_a_server_that_cannot_start_is_named(
    runner: asyncio.Runner, config: MCPServerConfig, said: str
) -> None:
    if config.url:
        config = config.model_copy(update={"url": config.url.format(port=free_port())})
    broken = MCPProvider({"broken": config})
    tool = ToolSpec(slug="BROKEN_X", toolkit="broken", provider="mcp", name="X", description="")
    try:
        with pytest.raises(BackendUnavailableError) as listed:
            runner.run(broken.list_tools())
        assert listed.value.backend == "mcp:broken"
        assert "'broken'" in str(listed.value) and said in str(listed.value)
        with pytest.raises(ProviderCallError) as called:
            runner.run(broken.execute(tool, {}, context()))
        assert called.value.kind is ToolErrorKind.PROVIDER_UNAVAILABLE
        assert not called.value.sent
    finally:
        runner.run(broken.aclose())


def test_http_server_going_away_is_provider_unavailable(runner: asyncio.Runner) -> None:
    with everything_over_http() as url:
        remote = MCPProvider({"remote": MCPServerConfig(url=url, timeout_seconds=5)})
        echo = tools_of(runner.run(remote.list_tools()), "remote")["echo"]
        assert runner.run(remote.execute(echo, {"message": "x"}, context())) == "Echo: x"
    try:  # the server is stopped now
        for _ in range(2):  # the call that finds it gone, then a call that cannot reconnect
            with pytest.raises(ProviderCallError) as caught:
                runner.run(remote.execute(echo, {"message": "x"}, context()))
            assert caught.value.kind is ToolErrorKind.PROVIDER_UNAVAILABLE
        assert not caught.value.sent
    finally:
        runner.run(remote.aclose())


def test_close_stops_every_server_process() -> None:
    async def scenario() -> list[int]:
        config = MCPServerConfig(command=[*TIME_SERVER[:-1], "Europe/Paris"])
        async with MCPProvider({"paris": config}) as paris:
            await paris.list_tools()
            assert child_pids("Europe/Paris")
        return child_pids("Europe/Paris")

    assert asyncio.run(scenario()) == []


def test_provider_is_bound_to_its_first_loop(provider: MCPProvider, listing: SourceListing) -> None:
    with pytest.raises(RuntimeError, match="another event loop"):
        asyncio.run(provider.list_tools())
