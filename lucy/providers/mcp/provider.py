"""``MCPProvider``: the MCP servers in ``LUCY_MCP_SERVERS`` as a tool source, a connection
reader and a tool executor.

Each server is one toolkit (``toolkit_of_server``). Its session is opened on first use and
kept open (``session.ServerSession``); a server that died is started again by the next call.
The provider is bound to the event loop that first uses it: a process that lists tools under
one ``asyncio.run`` and serves in another loop makes one provider per loop. Close it with
``aclose`` or ``async with``.

``notifications/tools/list_changed`` from a server marks its toolkit as changed
(``changed_toolkits``, ``consume_changed_toolkits``) and calls ``on_tools_changed(toolkit)``;
so does a call the server answers with "unknown tool", since the index is then stale.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, TextIO

from lucy.errors import BackendUnavailableError, ConfigurationError
from lucy.models import SourceListing, ToolErrorKind, ToolkitInfo, ToolSpec
from lucy.providers.base import CallContext, ProviderCallError
from lucy.providers.mcp.mapping import (
    PROVIDER,
    runnable,
    server_version,
    tool_spec,
    toolkit_info,
)
from lucy.providers.mcp.results import data_of, failure_of
from lucy.providers.mcp.session import ServerSession
from lucy.settings import MCPServerConfig, Settings, toolkit_of_server

log = logging.getLogger(__name__)

MIN_CALL_SECONDS = 0.001


class MCPProvider:
    """Serves every configured MCP server (``servers``: key → config, as in Settings).

    ``on_tools_changed`` is called with a toolkit when its server's tool list changed; it runs
    in the event loop and must not block. A stdio server's stderr goes to ``errlog`` (default:
    this process's stderr).
    """

    name = PROVIDER
    accepts_idempotency_key = False

    def __init__(
        self,
        servers: Mapping[str, MCPServerConfig],
        *,
        on_tools_changed: Callable[[str], None] | None = None,
        errlog: TextIO | None = None,
    ) -> None:
        self.on_tools_changed = on_tools_changed
        self._sessions: dict[str, ServerSession] = {}
        for key, config in servers.items():
            toolkit = toolkit_of_server(key, config)
            if toolkit in self._sessions:
                other = self._sessions[toolkit].key
                raise ConfigurationError(
                    f"MCP servers {other!r} and {key!r} are both toolkit {toolkit!r}: "
                    "give one of them another 'toolkit'"
                )
            self._sessions[toolkit] = ServerSession(
                key, config, on_tools_changed=self._changed_callback(toolkit), errlog=errlog
            )
        self._changed: set[str] = set()
        # connected_toolkits and changed_toolkits may be read from worker threads
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        on_tools_changed: Callable[[str], None] | None = None,
        errlog: TextIO | None = None,
    ) -> MCPProvider:
        """The provider of ``settings.mcp_servers`` (``LUCY_MCP_SERVERS``)."""
        return cls(settings.mcp_servers, on_tools_changed=on_tools_changed, errlog=errlog)

    @property
    def toolkits(self) -> frozenset[str]:
        """The toolkits of every configured server."""
        return frozenset(self._sessions)

    def is_connected(self, toolkit: str) -> bool:
        """Whether ``toolkit``'s server has an open session now (no I/O)."""
        session = self._sessions.get(toolkit)
        return session is not None and session.connected

    # -- tool list changes ---------------------------------------------------------------

    def changed_toolkits(self) -> set[str]:
        """Toolkits whose tools changed since the last ``consume_changed_toolkits``."""
        with self._lock:
            return set(self._changed)

    def consume_changed_toolkits(self) -> set[str]:
        """The changed toolkits, clearing the mark: list the tools again after calling it, so
        a change that arrives during the listing is kept for the next round."""
        with self._lock:
            changed, self._changed = self._changed, set()
        return changed

    def _mark_changed(self, toolkit: str) -> None:
        with self._lock:
            self._changed.add(toolkit)
        if self.on_tools_changed is not None:
            try:
                self.on_tools_changed(toolkit)
            except Exception:
                log.exception("on_tools_changed(%r) raised", toolkit)

    def _changed_callback(self, toolkit: str) -> Callable[[], None]:
        return lambda: self._mark_changed(toolkit)

    # -- ToolSource ----------------------------------------------------------------------

    async def list_tools(self) -> SourceListing:
        """Every server's toolkit and tools (all pages), the servers asked concurrently.

        Raises ``BackendUnavailableError`` naming each server that could not be listed."""
        self._bind()
        toolkits = list(self._sessions)
        answers = await asyncio.gather(
            *(self._list_server(t) for t in toolkits), return_exceptions=True
        )
        infos: list[ToolkitInfo] = []
        tools: list[ToolSpec] = []
        failed: list[tuple[str, BaseException]] = []
        for toolkit, answer in zip(toolkits, answers, strict=True):
            if isinstance(answer, BaseException):
                failed.append((self._sessions[toolkit].key, answer))
            else:
                infos.append(answer[0])
                tools.extend(answer[1])
        for _, error in failed:
            if not isinstance(error, BackendUnavailableError):
                raise error  # cancelled, or a bug: not the server's fault
        if failed:
            keys = ",".join(key for key, _ in failed)
            raise BackendUnavailableError(
                "; ".join(str(error) for _, error in failed), backend=f"mcp:{keys}"
            )
        return SourceListing(
            provider=PROVIDER, toolkits=tuple(infos), tools=tuple(_unique_slugs(tools))
        )

    async def _list_server(self, toolkit: str) -> tuple[ToolkitInfo, list[ToolSpec]]:
        session = self._sessions[toolkit]
        listed, init = await session.list_tools()
        version = server_version(init.server_info)
        info = toolkit_info(
            toolkit,
            key=session.key,
            configured_name=session.config.name,
            server_info=init.server_info,
            instructions=init.instructions,
        )
        specs = []
        for tool in listed:
            if runnable(tool):
                specs.append(tool_spec(tool, toolkit=toolkit, version=version))
            else:
                log.info(
                    "MCP server %r: %s needs task execution; not offered", session.key, tool.name
                )
        return info, specs

    # -- ConnectionReader ----------------------------------------------------------------

    def connected_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]:
        """The toolkits of servers open to every workspace or listing ``workspace_id``."""
        return frozenset(
            toolkit
            for toolkit, session in self._sessions.items()
            if _open_to(session.config, workspace_id)
        )

    def own_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]:
        """The workspace's (above); a person has none of their own."""
        return frozenset() if user_id is not None else self.connected_toolkits(workspace_id, None)

    def connect_link(self, toolkit: str, workspace_id: str, user_id: str | None) -> str | None:
        """None: an MCP server is connected by configuration, not by a person."""
        return None

    # -- ToolProvider --------------------------------------------------------------------

    def supports(self, tool: ToolSpec) -> bool:
        return tool.provider == PROVIDER and tool.toolkit in self._sessions

    async def execute(self, tool: ToolSpec, arguments: dict[str, Any], context: CallContext) -> Any:
        """Call ``tool`` by its MCP name on its server; the result's data, or
        ``ProviderCallError`` (see ``ServerSession.call_tool`` and ``results``)."""
        self._bind()
        session = self._sessions.get(tool.toolkit) if tool.provider == PROVIDER else None
        if session is None:
            raise ProviderCallError(
                ToolErrorKind.PROVIDER_ERROR,
                f"no configured MCP server serves {tool.slug} ({tool.toolkit})",
                details={"supported": False},
                sent=False,
            )
        if not _open_to(session.config, context.workspace_id):
            raise ProviderCallError(
                ToolErrorKind.CONNECTION_REQUIRED,
                f"MCP server {session.key!r} is not available to workspace {context.workspace_id}",
                sent=False,
            )
        timeout = max(context.deadline - time.monotonic(), MIN_CALL_SECONDS)
        try:
            result = await session.call_tool(tool.call_name, arguments, timeout=timeout)
            if result.is_error:
                raise failure_of(result, tool.call_name)
        except ProviderCallError as exc:
            if exc.kind is ToolErrorKind.UNKNOWN_TOOL:
                self._mark_changed(tool.toolkit)  # the server dropped a tool the index still has
            raise
        return data_of(result)

    # -- lifecycle -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close every session and stop every server process it started; idempotent. The
        provider cannot be used afterwards."""
        self._bind()
        await asyncio.gather(*(s.aclose() for s in self._sessions.values()))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(
                "this MCPProvider belongs to another event loop; make one provider per loop"
            )


def _open_to(config: MCPServerConfig, workspace_id: str) -> bool:
    return config.workspaces is None or workspace_id in config.workspaces


def _unique_slugs(tools: list[ToolSpec]) -> list[ToolSpec]:
    """The tools with distinct slugs: the first tool listed keeps a shared slug (``get-x`` and
    ``get_x``, or toolkit ``a_b`` tool ``c`` and toolkit ``a`` tool ``b_c``); each later one
    gets a suffix from a hash of its toolkit and MCP name, the same in every listing."""
    seen: set[str] = set()
    unique = []
    for tool in tools:
        if tool.slug in seen:
            digest = hashlib.sha1(f"{tool.toolkit}:{tool.call_name}".encode()).hexdigest()
            slug = f"{tool.slug}_{digest[:6].upper()}"
            log.warning(
                "MCP tool %s/%s: slug %s is taken, using %s",
                tool.toolkit,
                tool.call_name,
                tool.slug,
                slug,
            )
            tool = tool.model_copy(update={"slug": slug})
        seen.add(tool.slug)
        unique.append(tool)
    return unique
