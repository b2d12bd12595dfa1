"""The real MCP servers the MCP provider tests run, and one tiny server of our own.

The npm reference servers are installed by ``.ci/install-mcp-servers`` into ``.mcp-servers/``
(git ignores it); ``npm_server_bin`` finds them and fails with the command to run when they are
missing. Run as a script, this module is a stdio MCP server (``MCPServer``) whose tool
``add_tool`` registers a new tool and sends ``notifications/tools/list_changed``: none of the
reference servers sends that notification on request.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer

REPO = Path(__file__).resolve().parents[1]
NPM_BIN = REPO / ".mcp-servers" / "node_modules" / ".bin"
GROWING_SERVER = [sys.executable, str(Path(__file__).resolve())]


def npm_server_bin(name: str) -> str:
    """The path of an installed npm MCP server's bin (``mcp-server-everything``...)."""
    if shutil.which("node") is None:
        raise RuntimeError("Node.js is not on PATH: the MCP server tests need Node.js 20+ and npm")
    path = NPM_BIN / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run .ci/install-mcp-servers (it needs npm)")
    return str(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def everything_over_http() -> Iterator[str]:
    """server-everything in its streamable HTTP mode; yields its ``/mcp`` URL."""
    port = free_port()
    process = subprocess.Popen(
        [npm_server_bin("mcp-server-everything"), "streamableHttp"],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server-everything exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server-everything did not listen on port {port} within {timeout}s")


def child_pids(marker: str) -> list[int]:
    """Live child processes of this process whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # the fields after the parenthesised command: state, ppid, ...
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == os.getpid() and state != "Z" and marker in cmdline:
            found.append(int(entry.name))
    return found


def _growing_server() -> None:
    server = MCPServer("growing", version="0.1.0", instructions="Grows a tool on request.")

    def ping() -> str:
        """Answer pong."""
        return "pong"

    # Context must resolve in this module's globals: MCPServer evaluates the annotations
    async def add_tool(name: str, ctx: Context) -> str:
        """Register a tool called ``name`` and tell the client the tool list changed."""
        server.add_tool(ping, name=name, description=f"Answers pong (added as {name}).")
        await ctx.session.send_tool_list_changed()
        return f"added {name}"

    server.add_tool(ping)
    server.add_tool(add_tool)
    server.run("stdio")


if __name__ == "__main__":
    _growing_server()
