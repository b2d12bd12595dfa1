"""Opening one configured MCP server's transport: a stdio subprocess or streamable HTTP.

The read stream handed back is watched: ``on_end`` runs the moment it ends (the stdio server
exited, the HTTP transport shut down), which is how a session learns its server is gone
without waiting for the next call to fail. Like every anyio context manager, the transport
must be entered and exited in the same task.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Protocol, Self, TextIO

import anyio
import httpx2
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage

from lucy.settings import MCPServerConfig

# A server may hold an HTTP response (an SSE stream) open for as long as a tool runs; the
# per-request deadline is enforced by the session, not by the HTTP read timeout.
HTTP_READ_TIMEOUT_SECONDS = 300.0

Item = SessionMessage | Exception


class Source(Protocol):
    """The receiving end a transport yields (the SDK's own protocol is private)."""

    async def receive(self) -> Item: ...

    async def aclose(self) -> None: ...


class Sink(Protocol):
    """The sending end a transport yields, as ``ClientSession`` takes it."""

    async def send(self, item: SessionMessage, /) -> None: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None: ...


class WatchedReadStream:
    """A read stream that calls ``on_end`` once when it ends, closes or breaks."""

    def __init__(self, inner: Source, on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end: Callable[[], None] | None = on_end

    @property
    def last_context(self) -> object:
        # the dispatcher runs handlers in the sender's context when the stream carries one
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Item:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._ended()
            raise

    async def aclose(self) -> None:
        self._ended()
        await self._inner.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Item:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _ended(self) -> None:
        on_end, self._on_end = self._on_end, None
        if on_end is not None:
            on_end()


def _process_stderr() -> TextIO:
    """This process's stderr as a real file: a child process needs a file descriptor, and a
    replaced ``sys.stderr`` (a test runner's capture, a notebook) may have none."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            if stream is not None:
                stream.fileno()
                return stream
        except (AttributeError, OSError, ValueError):
            continue
    return open(os.devnull, "w")  # lives as long as the process


@contextlib.asynccontextmanager
async def open_transport(
    config: MCPServerConfig, *, on_end: Callable[[], None], errlog: TextIO | None = None
) -> AsyncIterator[tuple[WatchedReadStream, Sink]]:
    """The server's (read, write) streams; a stdio server's stderr goes to ``errlog``
    (default: this process's stderr)."""
    if config.command is not None:
        params = StdioServerParameters(
            command=config.command[0],
            args=config.command[1:],
            env=config.env or None,
            cwd=config.cwd,
        )
        async with stdio_client(params, errlog=errlog or _process_stderr()) as (read, write):
            yield WatchedReadStream(read, on_end), write
        return
    assert config.url is not None  # MCPServerConfig holds exactly one of command and url
    timeout = httpx2.Timeout(config.timeout_seconds, read=HTTP_READ_TIMEOUT_SECONDS)
    async with (
        httpx2.AsyncClient(headers=config.headers, timeout=timeout) as client,
        streamable_http_client(config.url, http_client=client) as (read, write),
    ):
        yield WatchedReadStream(read, on_end), write
