"""Lucy as an MCP server (streamable HTTP, mounted at ``/mcp``): ``search_tools`` is
``/v1/retrieve`` for the caller's workspace; ``call_tool`` runs one tool of the index through
the loop's guards (known, connected, schema-valid) and the same executor (timeouts, retries,
circuit breakers). A failure comes back as an MCP tool error whose text is Lucy's typed error
as JSON (also its structured content), so an agent can act on it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from lucy.capability_index.service import CapabilityIndex
from lucy.errors import LucyError
from lucy.models import Candidate, ToolError, ToolErrorKind
from lucy.planner.guards import check_call
from lucy.planner.loop import Executor
from lucy.providers.base import CallContext
from lucy.settings import Settings

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

INSTRUCTIONS = (
    "Lucy finds the tools that fit a request among thousands, for one workspace. Call "
    "search_tools with the request in the user's words, then call_tool with a returned slug and "
    "arguments that match its parameters schema. missing_connections names toolkits that would "
    "help but are not connected."
)

WorkspaceId = Annotated[str, Field(description="The workspace whose connections apply.")]
UserId = Annotated[
    str | None, Field(description="A user in the workspace (adds their own connections).")
]


def build_mcp_server(
    index: Callable[[], CapabilityIndex], executor: Callable[[], Executor], settings: Settings
) -> MCPServer:
    """The MCP server over the app's index and executor (read when a tool is called)."""
    server = MCPServer(name="lucy", instructions=INSTRUCTIONS, version="0.1.0")

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True, openWorldHint=False))
    async def search_tools(
        query: Annotated[str, Field(description="The request, in the user's words.")],
        workspace_id: WorkspaceId,
        user_id: UserId = None,
        k: Annotated[int | None, Field(description="How many tools (default 5).")] = None,
    ) -> CallToolResult:
        """The tools of the workspace's connected toolkits that fit a request, best first, with
        their parameter schemas; and the toolkits that would fit but are not connected."""
        try:
            result = await asyncio.to_thread(
                index().retrieve, query, workspace_id=workspace_id, user_id=user_id, k=k
            )
        except LucyError as exc:
            return _answer(_refused(exc), error=True)
        return _answer(result.model_dump(mode="json"))

    @server.tool(annotations=ToolAnnotations(destructiveHint=True, openWorldHint=True))
    async def call_tool(
        slug: Annotated[str, Field(description="A slug that search_tools returned.")],
        workspace_id: WorkspaceId,
        arguments: Annotated[
            dict[str, Any] | None, Field(description="Arguments matching the tool's schema.")
        ] = None,
        user_id: UserId = None,
    ) -> CallToolResult:
        """Run one tool for the workspace. Its result is ``{"slug", "provider", "data"}``; a
        failure is a tool error carrying Lucy's typed error (kind, message, details)."""
        try:
            connected = await asyncio.to_thread(index().connected, workspace_id, user_id)
            spec = await asyncio.to_thread(index().tool, slug)
        except LucyError as exc:
            return _answer(_refused(exc), error=True)
        offered = {spec.slug: Candidate(**spec.model_dump(), score=0.0)}
        checked = check_call(slug, json.dumps(arguments or {}), offered, connected)
        if isinstance(checked, ToolError):
            return _answer(await _failed(checked, index(), workspace_id, user_id), error=True)
        deadline = time.monotonic() + settings.planner.deadline_seconds
        context = CallContext(workspace_id, user_id, deadline=deadline)
        result = await executor().run(spec, checked, context, call_id=f"mcp_{uuid.uuid4().hex}")
        if result.error is not None:
            return _answer(await _failed(result.error, index(), workspace_id, user_id), error=True)
        return _answer({"slug": spec.slug, "provider": result.provider, "data": result.data})

    return server


def _answer(body: dict[str, Any], *, error: bool = False) -> CallToolResult:
    text = json.dumps(body, ensure_ascii=False, default=str)
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=json.loads(text),
        is_error=error,
    )


def _refused(exc: LucyError) -> dict[str, Any]:
    return {"error": type(exc).__name__, "message": str(exc), "field": getattr(exc, "field", None)}


async def _failed(
    error: ToolError, index: CapabilityIndex, workspace_id: str, user_id: str | None
) -> dict[str, Any]:
    body = error.for_model()
    body["user_message"] = error.kind.user_message
    toolkit = error.details.get("toolkit")
    if error.kind is ToolErrorKind.CONNECTION_REQUIRED and isinstance(toolkit, str):
        link = await asyncio.to_thread(index.connect_link, toolkit, workspace_id, user_id)
        if link:
            body.setdefault("connect_link", link)
    return body


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection on, allowing loopback, the bound host and the configured ones
    (``LUCY_MCP_ALLOWED_HOSTS``), with or without a port."""
    names = ["127.0.0.1", "localhost", "[::1]", settings.host, *settings.mcp_allowed_hosts]
    hosts = list(dict.fromkeys(h for name in names for h in (name, f"{name}:*")))
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")],
    )


class MCPEndpoint:
    """An ASGI app mounted at ``/mcp`` that serves the MCP server started by ``running``.

    An MCP session manager runs once; the endpoint makes a fresh one each time the app starts,
    so one app object may be started more than once (as tests do)."""

    def __init__(self, make: Callable[[], MCPServer], settings: Settings) -> None:
        self._make = make
        self._settings = settings
        self._asgi: ASGIApp | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        server = self._make()
        asgi = server.streamable_http_app(
            streamable_http_path="/", transport_security=transport_security(self._settings)
        )
        async with server.session_manager.run():
            self._asgi = asgi
            try:
                yield
            finally:
                self._asgi = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._asgi is None:
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"MCP endpoint not running"})
            return
        await self._asgi(scope, receive, send)


class WithSlash:
    """Serves ``<prefix>`` as ``<prefix>/``: MCP clients are configured both ways, and a
    redirect would turn their POST into a second round trip (or a failure)."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self._app = app
        self._prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        root = scope.get("root_path", "")
        child = {**scope, "path": scope["path"] + "/", "root_path": root + self._prefix}
        await self._app(child, receive, send)
