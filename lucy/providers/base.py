"""The provider protocols: where tools come from, who has connected what, and how one runs.

- ``ToolSource`` lists a provider's toolkits and tools (``lucy index build`` reads every one).
- ``ConnectionReader`` says which of its toolkits a workspace (and user) has connected, and
  gives the link that connects one.
- ``ToolProvider`` executes one attempt of one call and either returns the tool's JSON result
  or raises ``ProviderCallError`` with a ``ToolErrorKind``. Timeouts, retries and the circuit
  breaker are not the provider's business: ``lucy.providers.resilience`` wraps every provider
  the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from lucy.errors import LucyError
from lucy.models import SourceListing, ToolError, ToolErrorKind, ToolSpec


@dataclass(frozen=True)
class CallContext:
    """Who the call is for and until when it may run (``deadline`` on ``time.monotonic()``).

    ``idempotency_key`` is the same for every attempt of one logical call; a provider that
    takes such keys (``accepts_idempotency_key``) sends it, so a retried write runs once."""

    workspace_id: str
    user_id: str | None
    deadline: float
    idempotency_key: str | None = None


class ProviderCallError(LucyError):
    """One attempt failed. ``status`` is the HTTP status when there was one; ``retry_after`` the
    seconds a 429/503 asked us to wait. ``sent`` is False only when the request certainly
    never reached the provider (the connection was refused): then even a write may be retried.
    """

    def __init__(
        self,
        kind: ToolErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.details = details or {}
        self.sent = sent

    def to_tool_error(self) -> ToolError:
        details = dict(self.details)
        if self.status is not None:
            details.setdefault("status", self.status)
        return ToolError(
            kind=self.kind, message=str(self), details=details, retry_after=self.retry_after
        )


class ToolSource(Protocol):
    """Lists the toolkits and tools a provider offers."""

    name: str

    async def list_tools(self) -> SourceListing:
        """Every toolkit and tool this source offers now (all pages read)."""
        ...


class ConnectionReader(Protocol):
    """Connection state of the toolkits one provider owns. Blocking calls: the index runs them
    in worker threads, behind its cache."""

    name: str

    def connected_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]:
        """The provider's toolkits usable by ``user_id`` in ``workspace_id`` (the workspace's
        connections plus the user's own)."""
        ...

    def own_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]:
        """The provider's toolkits connected for exactly this owner: the workspace
        (``user_id`` None) or the user alone. The index caches each owner's part on its own,
        so a change of the workspace's connections does not drop every user's."""
        ...

    def connect_link(self, toolkit: str, workspace_id: str, user_id: str | None) -> str | None:
        """A link a person opens to connect ``toolkit``; None when the provider has none."""
        ...


@dataclass(frozen=True)
class ConnectionChange:
    """A provider's webhook says an owner's connection changed (an account expired...)."""

    event_id: str
    workspace_id: str
    user_id: str | None
    toolkit: str | None
    change: str


class WebhookSource(Protocol):
    """A provider that reports connection changes by webhook (Composio's connected-account
    events). Blocking: the API runs it in a worker thread."""

    name: str

    def connection_changes(self, body: bytes, headers: Mapping[str, str]) -> list[ConnectionChange]:
        """The connection changes the webhook reports, after checking its signature
        (``AuthenticationError`` when it does not hold, ``InvalidRequestError`` for a body
        that is not an event); [] for an event about something else."""
        ...


class ConnectionSweeper(Protocol):
    """A provider that can list the connections that lapsed (expired, revoked...) since a
    time, for the ``connection_sweep`` job. Blocking."""

    name: str

    def lapsed_owners(self, since: datetime | None) -> list[tuple[str, str | None]]:
        """(workspace, user) of every owner with a connection that lapsed at or after
        ``since`` (None: ever)."""
        ...


class ToolProvider(Protocol):
    """Executes tools of the toolkits it serves. ``accepts_idempotency_key``: the provider
    sends ``CallContext.idempotency_key`` upstream, so a write may be retried safely."""

    name: str
    accepts_idempotency_key: bool

    def supports(self, tool: ToolSpec) -> bool:
        """Whether this provider can execute ``tool`` at all."""
        ...

    async def execute(self, tool: ToolSpec, arguments: dict[str, Any], context: CallContext) -> Any:
        """Run one attempt; return the JSON-able result or raise ``ProviderCallError``."""
        ...
