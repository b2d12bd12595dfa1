"""The providers the settings turn on, in their three roles: tool sources (for index builds),
connection readers (for the retrieval filter) and executors (for the tool loop).

=============== ============================== ========================================
provider        turned on by                   serves
=============== ============================== ========================================
demo            ``LUCY_DEMO_CATALOG`` (on)      the local catalog's read tools (executor)
composio        ``LUCY_COMPOSIO_API_KEY``       Composio's toolkits, accounts, execution
mcp             ``LUCY_MCP_SERVERS``            one toolkit per configured MCP server
=============== ============================== ========================================

The local catalog itself is listed by the index (``capability_index.sources``), and its
connections live in the local store. An ``MCPProvider`` keeps sessions open in the event loop
that first uses it: use one ``ProviderSet`` per loop and close it there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from lucy.providers.base import (
    ConnectionReader,
    ConnectionSweeper,
    ToolProvider,
    ToolSource,
    WebhookSource,
)
from lucy.providers.demo import DemoProvider
from lucy.settings import Settings


@dataclass
class ProviderSet:
    sources: list[ToolSource] = field(default_factory=list)
    readers: list[ConnectionReader] = field(default_factory=list)
    executors: list[ToolProvider] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    change_feeds: list[Callable[[], set[str]]] = field(default_factory=list)
    """Each returns (and forgets) the toolkits its provider saw change (MCP list_changed)."""
    webhooks: dict[str, WebhookSource] = field(default_factory=dict)
    """Providers that report connection changes by webhook, by name (Composio)."""
    sweepers: list[ConnectionSweeper] = field(default_factory=list)
    """Providers that can list lapsed connections (Composio), for ``connection_sweep``."""

    def changed_toolkits(self) -> set[str]:
        return set().union(*(feed() for feed in self.change_feeds))

    async def aclose(self) -> None:
        """Close every provider that holds sessions (in the loop that used them)."""
        closers, self.closers = self.closers, []
        for close in reversed(closers):
            await close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _closing(close: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def aclose() -> None:
        close()

    return aclose


def providers_from_settings(settings: Settings) -> ProviderSet:
    """Every provider the settings turn on (importing the Composio and MCP SDKs only then)."""
    found = ProviderSet()
    if settings.demo_catalog:
        found.executors.append(DemoProvider())
    if settings.composio_configured:
        from lucy.providers.composio import ComposioProvider

        composio = ComposioProvider.from_settings(settings)
        found.sources.append(composio)
        found.readers.append(composio)
        found.executors.append(composio)
        found.closers.append(_closing(composio.close))
        found.sweepers.append(composio)
        if composio.webhook_secret:
            found.webhooks[composio.name] = composio
    if settings.mcp_servers:
        from lucy.providers.mcp import MCPProvider

        mcp = MCPProvider.from_settings(settings)
        found.sources.append(mcp)
        found.readers.append(mcp)
        found.executors.append(mcp)
        found.closers.append(mcp.aclose)
        found.change_feeds.append(mcp.consume_changed_toolkits)
    return found
