"""The ``lucy`` CLI beside a running ``lucy serve``, both real processes on loopback.

The server holds the embedded index (qdrant-edge locks its folder), so ``lucy retrieve``,
``lucy index status`` and ``lucy connections ...`` ask it over HTTP (``LUCY_URL``) and print
what they print locally; ``lucy index build`` says in one line who holds the index. With the
index locked and no server at ``LUCY_URL`` every command says so in one line, exit 2.

The tests of the running server share one (module fixture); the last one stops it and checks
that the CLI prints the same locally.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from lucy.capability_index.catalog import demo_catalog_dir
from lucy.capability_index.edge_store import EdgeStore
from lucy.testing.loopback import LoopbackServer

from .conftest import SMALL_TOOLKITS
from .mcp_servers import free_port

LUCY = str(Path(sys.executable).with_name("lucy"))
BUG = "open a bug in linear for the login crash"
TEAM = "T024BE7LD"


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def rows(self) -> list[str]:
        """The table's body rows (a row per candidate; wrapped cells add rows)."""
        return [line for line in self.out.splitlines() if line.startswith("│")]

    def first_slug(self) -> str:
        return self.rows[0].split("│")[2].strip()


def lucy(env: dict[str, str], *args: str) -> Ran:
    done = subprocess.run(
        [LUCY, *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def ok(env: dict[str, str], *args: str) -> Ran:
    ran = lucy(env, *args)
    assert ran.code == 0, ran
    assert ran.err == "", ran.err
    return ran


def one_line_error(ran: Ran) -> str:
    """The command failed as an expected condition: exit 2, one line on stderr, no stdout."""
    assert ran.code == 2, ran
    assert ran.out == ""
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1, ran.err
    assert lines[0].startswith("error: ")
    return lines[0]


def cli_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """This environment without any LUCY_* setting, plus the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUCY_")}
    return {
        **env,
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",  # tables are not cut at 80 columns
        "LUCY_DATA_DIR": str(data_dir),
        "LUCY_HOST": "127.0.0.1",
        "LUCY_PORT": str(port),
        **extra,
    }


@dataclass
class Served:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def get(self, path: str, **params: str) -> Any:
        response = httpx.get(self.url + path, params=params, timeout=30)
        response.raise_for_status()
        return response.json()


def _wait_ready(served: Served, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise RuntimeError(f"lucy serve exited: {served.log.read_text()[-3000:]}")
        try:
            if httpx.get(served.url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"lucy serve not ready in {timeout}s: {served.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``lucy serve`` on a free loopback port with the small catalog (it builds the index)."""
    root = tmp_path_factory.mktemp("beside")
    catalog = root / "catalog"
    catalog.mkdir()
    for toolkit in SMALL_TOOLKITS:
        shutil.copy(str(demo_catalog_dir() / f"{toolkit}.yaml"), catalog / f"{toolkit}.yaml")
    port = free_port()
    env = cli_env(root / "data", port, LUCY_CATALOG_PATH=str(catalog))
    log = root / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([LUCY, "serve"], env=env, stdout=sink, stderr=sink)
    served = Served(f"http://127.0.0.1:{port}", env, process, log)
    try:
        _wait_ready(served)
        yield served
    finally:
        served.stop()


def test_the_readme_commands_run_beside_the_server(server: Served) -> None:
    demo = ok(server.env, "retrieve", BUG, "--workspace", "demo", "-k", "5")
    assert demo.first_slug() == "LINEAR_CREATE_ISSUE"
    assert "not connected" not in demo.out

    assert ok(server.env, "connections", "connect", TEAM, "github", "slack").out == (
        f"{TEAM}: github, slack\n"
    )
    assert server.get(f"/v1/workspaces/{TEAM}/connections")["toolkits"] == ["github", "slack"]

    before = ok(server.env, "retrieve", BUG, "--workspace", TEAM)
    assert before.first_slug() == "GITHUB_CREATE_ISSUE"
    assert not any("LINEAR_" in row for row in before.rows)
    assert "not connected: Linear (linear) - named in the request" in before.out
    assert f"lucy connections connect {TEAM} linear" in before.out

    ok(server.env, "connections", "connect", TEAM, "linear")
    after = ok(server.env, "retrieve", BUG, "--workspace", TEAM)
    assert after.first_slug() == "LINEAR_CREATE_ISSUE"
    assert "not connected" not in after.out

    live = server.get("/readyz")["index_version"]
    status = ok(server.env, "index", "status")
    assert any("live_version" in row and live in row for row in status.rows)
    assert "qdrant-edge" in status.out
    assert json.loads(ok(server.env, "index", "status", "--json").out) == server.get("/v1/index")

    build = one_line_error(lucy(server.env, "index", "build"))
    assert f"held by the Lucy server at {server.url} (live: {live})" in build
    assert "stop it, run `lucy index build`" in build
    assert server.get("/readyz")["index_version"] == live  # nothing was built


def test_retrieve_json_is_the_servers_retrieve_body(server: Served) -> None:
    cli = json.loads(ok(server.env, "retrieve", "email bob the launch plan", "--json").out)
    body = {"query": "email bob the launch plan", "workspace_id": "demo", "k": 5}
    api = httpx.post(server.url + "/v1/retrieve", json=body, timeout=30).json()
    assert cli.pop("timings").keys() == api.pop("timings").keys()
    assert cli == api
    assert cli["candidates"][0]["toolkit"] == "gmail"


def test_disconnect_and_list_go_through_the_server(server: Served) -> None:
    ok(server.env, "connections", "connect", "T2", "jira", "notion", "slack")
    gone = ok(server.env, "connections", "disconnect", "T2", "jira", "notion")
    assert gone.out == "T2: slack\n"
    assert ok(server.env, "connections", "list", "T2").out == "T2: slack\n"
    assert server.get("/v1/workspaces/T2/connections")["toolkits"] == ["slack"]
    assert ok(server.env, "connections", "list", "T2", "--user", "U1").out == "T2: slack\n"


def test_the_servers_refusals_are_one_line_and_exit_2(server: Served) -> None:
    k = one_line_error(lucy(server.env, "retrieve", "hello", "-k", "0"))
    assert k == f"error: the Lucy server at {server.url} answered 422: k must be between 1 and 50"
    unknown = one_line_error(lucy(server.env, "connections", "connect", "T3", "nosuchkit"))
    assert "answered 422: unknown toolkits ['nosuchkit']" in unknown
    bad_id = one_line_error(lucy(server.env, "connections", "list", "not a workspace!"))
    assert "answered 422" in bad_id and "workspace_id" in bad_id
    second = one_line_error(lucy(server.env, "serve"))
    assert "is locked by another process" in second
    assert "Traceback" not in server.log.read_text()


def test_the_cli_prints_the_same_locally_once_the_server_stops(server: Served) -> None:
    """Last: stops the shared server. What the CLI printed through it, it prints locally."""
    remote_status = ok(server.env, "index", "status").out
    remote_table = ok(server.env, "retrieve", BUG, "--workspace", TEAM, "-k", "3").out
    server.stop()
    assert ok(server.env, "index", "status").out == remote_status
    local_table = ok(server.env, "retrieve", BUG, "--workspace", TEAM, "-k", "3").out
    # the last line is the time taken
    assert local_table.splitlines()[:-1] == remote_table.splitlines()[:-1]


@pytest.fixture
def held(tmp_path: Path) -> Iterator[Path]:
    """A data dir whose embedded index this test process holds (as a server would)."""
    data = tmp_path / "data"
    holder = EdgeStore(data / "index" / "edge")
    holder.create_collection("lucy_tools_v1", 4)
    holder.set_live("lucy_tools_v1")
    try:
        yield data
    finally:
        holder.close()


def test_a_locked_index_and_no_server_is_one_line_and_exit_2(held: Path) -> None:
    port = free_port()  # nothing listens there
    env = cli_env(held, port)
    for command in (
        ["retrieve", BUG, "--workspace", "demo"],
        ["index", "status", "--json"],
        ["index", "build"],
        ["connections", "connect", TEAM, "github"],
        ["connections", "list", TEAM],
    ):
        line = one_line_error(lucy(env, *command))
        assert f"the embedded index at {held / 'index' / 'edge'} is locked" in line, command
        assert f"no Lucy server answered at http://127.0.0.1:{port}: " in line, command
        assert line.endswith("set LUCY_URL to the server that holds it"), command
    elsewhere = one_line_error(lucy({**env, "LUCY_URL": "http://127.0.0.1:1/"}, "index", "status"))
    assert "no Lucy server answered at http://127.0.0.1:1: " in elsewhere


def _not_lucy(request: Request) -> Response:
    if request.url.path == "/readyz":
        return PlainTextResponse("fine\n")
    return HTMLResponse("<html>\n<h1>502 Bad Gateway</h1>\n</html>\n", status_code=502)


def test_an_answer_that_is_not_lucys_is_one_line(held: Path) -> None:
    app = Starlette(routes=[Route("/{path:path}", _not_lucy, methods=["GET", "POST"])])
    with LoopbackServer(app, lifespan="off") as proxy:
        env = cli_env(held, free_port(), LUCY_URL=proxy.url)
        status = one_line_error(lucy(env, "index", "status"))
        assert status == (
            f"error: the Lucy server at {proxy.url} answered 502: "
            "<html> <h1>502 Bad Gateway</h1> </html>"
        )
        build = one_line_error(lucy(env, "index", "build"))
        assert f"{proxy.url}/readyz did not answer with a JSON object" in build
