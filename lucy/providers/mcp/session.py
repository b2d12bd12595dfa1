"""One long-lived MCP session per configured server, reopened when the server goes away.

anyio requires a context manager (the transport, ``ClientSession``) to be entered and exited
in one task, so each connection has an *owner task* that opens the transport and the session,
runs ``initialize``, then waits until it is told to stop or the transport ends; callers in
other tasks of the same event loop use the opened ``ClientSession`` meanwhile. A connection
is dropped when its transport ends (a stdio server exited), when a call finds it closed, or
when the server no longer knows the session; the next use opens a new one (a new process for
stdio). Nothing reconnects in the background: a server nobody calls stays down.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import mcp_types as types
from mcp.client.session import ClientSession, IncomingMessage
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from lucy.errors import BackendUnavailableError
from lucy.models import ToolErrorKind
from lucy.providers.base import ProviderCallError
from lucy.providers.mcp.results import error_of
from lucy.providers.mcp.transport import open_transport
from lucy.settings import MCPServerConfig

log = logging.getLogger(__name__)

MAX_PAGES = 1000
"""tools/list pages read before giving up on a server whose cursor never ends."""
CLOSE_GRACE_SECONDS = 15.0
"""How long ``aclose`` lets a connection shut down: a start in progress may first need its
``timeout_seconds``, and the SDK takes up to ~6 s to stop a stdio process that ignores EOF."""


def _client_info() -> types.Implementation:
    try:
        version = importlib.metadata.version("lucy")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return types.Implementation(name="lucy", version=version)


@dataclass(eq=False)
class _Connection:
    """One generation of a server's session: its owner task and what that task opened."""

    ready: asyncio.Future[tuple[ClientSession, types.InitializeResult]]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    lost: bool = False
    """The transport ended or a call found the session gone: never use it again."""

    @property
    def usable(self) -> bool:
        return not (self.lost or self.stop.is_set() or (self.task is not None and self.task.done()))

    def drop(self) -> None:
        self.lost = True
        self.stop.set()


class ServerSession:
    """The session to one MCP server (``key`` in ``LUCY_MCP_SERVERS``), opened on first use.

    ``on_tools_changed`` runs (in the event loop) when the server sends
    ``notifications/tools/list_changed``. A stdio server's stderr goes to ``errlog``
    (default: this process's stderr). Bound to the event loop that first uses it.
    """

    def __init__(
        self,
        key: str,
        config: MCPServerConfig,
        *,
        on_tools_changed: Callable[[], None] | None = None,
        errlog: TextIO | None = None,
    ) -> None:
        self.key = key
        self.config = config
        self._on_tools_changed = on_tools_changed
        self._errlog = errlog
        self._current: _Connection | None = None
        self._connections: set[_Connection] = set()  # every one whose owner task runs
        self._closed = False

    @property
    def connected(self) -> bool:
        """Whether a session is open and not known to be gone."""
        conn = self._current
        if conn is None or not conn.usable or not conn.ready.done():
            return False
        return not conn.ready.cancelled() and conn.ready.exception() is None

    @property
    def target(self) -> str:
        """What the server is, for messages: its command or its URL (no credentials)."""
        if self.config.command is not None:
            return self.config.command[0]
        url = (self.config.url or "").split("?", 1)[0]
        scheme, _, rest = url.partition("://")
        return f"{scheme}://{rest.rsplit('@', 1)[-1]}" if rest else url

    async def open(self) -> tuple[ClientSession, types.InitializeResult]:
        """The open session and the server's ``initialize`` result, opening one if needed.

        Raises ``BackendUnavailableError`` (backend ``mcp:<key>``) when the server cannot be
        started, reached or initialised within ``timeout_seconds``."""
        session, init, _ = await self._open()
        return session, init

    async def list_tools(self) -> tuple[list[types.Tool], types.InitializeResult]:
        """Every tool the server lists now (all pages) and its ``initialize`` result."""
        session, init, conn = await self._open()
        tools: list[types.Tool] = []
        cursor: str | None = None
        try:
            for _ in range(MAX_PAGES):
                params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
                page = await session.list_tools(params=params)
                tools.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    return tools, init
        except MCPError as exc:
            if self._gone(exc):
                conn.drop()
            raise self._unavailable(f"tools/list failed: {exc.message}") from exc
        raise self._unavailable(f"tools/list did not end after {MAX_PAGES} pages")

    async def call_tool(
        self, name: str, arguments: dict[str, Any], *, timeout: float
    ) -> types.CallToolResult:
        """Call tool ``name`` once; the result may have ``is_error`` set.

        Raises ``ProviderCallError``: ``provider_unavailable`` when the server cannot be
        reached (``sent=False`` when the call was not made, ``sent=True`` when the
        connection closed under it), ``timeout`` after ``timeout`` seconds, and the kinds
        ``results.error_of`` gives a JSON-RPC error."""
        try:
            session, _, conn = await self._open()
        except BackendUnavailableError as exc:
            raise ProviderCallError(
                ToolErrorKind.PROVIDER_UNAVAILABLE, str(exc), details={"tool": name}, sent=False
            ) from exc
        try:
            return await session.call_tool(name, arguments, read_timeout_seconds=timeout)
        except MCPError as exc:
            if exc.code == types.CONNECTION_CLOSED:
                conn.drop()
                raise ProviderCallError(
                    ToolErrorKind.PROVIDER_UNAVAILABLE,
                    f"MCP server {self.key!r} closed the connection during the call",
                    details={"tool": name},
                ) from exc
            if self._gone(exc):
                conn.drop()
                # the server refused the session itself, so the tool did not run
                raise ProviderCallError(
                    ToolErrorKind.PROVIDER_UNAVAILABLE,
                    f"MCP server {self.key!r} no longer knows this session: {exc.message}",
                    details={"tool": name},
                    sent=False,
                ) from exc
            raise error_of(exc, name) from exc
        except (RuntimeError, ValidationError) as exc:
            # the SDK's checks of the answer: output schema mismatch, malformed result,
            # a request for input we cannot give
            raise ProviderCallError(
                ToolErrorKind.PROVIDER_ERROR,
                f"MCP server {self.key!r} answered {name} with an unusable result: {exc}",
                details={"tool": name},
            ) from exc

    async def aclose(self) -> None:
        """Stop every connection and wait for its server to shut down; idempotent."""
        self._closed = True
        owners = set()
        for conn in self._connections:
            # a connection still starting stops once initialize ends (bounded by its timeout)
            conn.drop()
            assert conn.task is not None
            owners.add(conn.task)
        if not owners:
            return
        _, pending = await asyncio.wait(owners, timeout=CLOSE_GRACE_SECONDS)
        for task in pending:
            # last resort: a native cancel can cut the SDK's shielded process shutdown short
            log.warning("MCP server %r did not shut down in time; cancelling it", self.key)
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def _open(self) -> tuple[ClientSession, types.InitializeResult, _Connection]:
        if self._closed:
            raise self._unavailable("the provider is closed")
        conn = self._current
        if conn is None or not conn.usable:
            conn = self._current = self._start()
        try:
            # shielded: a caller that gives up must not cancel the start others wait for
            session, init = await asyncio.shield(conn.ready)
        except Exception as exc:
            raise self._unavailable(f"could not be started: {_describe(exc)}") from exc
        return session, init, conn

    def _start(self) -> _Connection:
        loop = asyncio.get_running_loop()
        conn = _Connection(ready=loop.create_future())
        # the outcome is always read by whoever waits; this keeps asyncio quiet when nobody does
        conn.ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        task = loop.create_task(self._own(conn), name=f"mcp-session-{self.key}")
        conn.task = task
        self._connections.add(conn)
        task.add_done_callback(lambda _: self._connections.discard(conn))
        return conn

    async def _own(self, conn: _Connection) -> None:
        """The owner task: open, initialise, hold the session until told to stop."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(
                    open_transport(self.config, on_end=conn.drop, errlog=self._errlog)
                )
                session = await stack.enter_async_context(
                    ClientSession(
                        read,
                        write,
                        read_timeout_seconds=self.config.timeout_seconds,
                        message_handler=self._on_message,
                        client_info=_client_info(),
                    )
                )
                init = await session.initialize()
                conn.ready.set_result((session, init))
                log.info("MCP server %r (%s) connected", self.key, self.target)
                await conn.stop.wait()
        except Exception as exc:  # an ExceptionGroup too: the transport's task group failed
            if not conn.ready.done():
                conn.ready.set_exception(exc)
            elif not self._closed:
                log.warning("MCP server %r session ended: %s", self.key, _describe(exc))
        finally:
            conn.lost = True
            if not conn.ready.done():
                conn.ready.set_exception(ConnectionError("the session was closed while starting"))

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            log.info("MCP server %r: tool list changed", self.key)
            if self._on_tools_changed is not None:
                self._on_tools_changed()
        elif isinstance(message, Exception):
            log.debug("MCP server %r transport fault: %r", self.key, message)

    def _gone(self, exc: MCPError) -> bool:
        """Whether the error says the session is over (HTTP 404 for a known session id)."""
        return exc.code == types.CONNECTION_CLOSED or (
            exc.code == types.INVALID_REQUEST and "session terminated" in exc.message.lower()
        )

    def _unavailable(self, what: str) -> BackendUnavailableError:
        return BackendUnavailableError(
            f"MCP server {self.key!r} ({self.target}): {what}", backend=f"mcp:{self.key}"
        )


def _describe(exc: BaseException) -> str:
    """The leaf exceptions of ``exc`` (task groups wrap them), as ``Type: message``."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in exc.exceptions)
    if isinstance(exc, MCPError):
        return exc.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
