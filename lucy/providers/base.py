"""The provider protocol: how the planner asks for one tool to run.

A provider executes one attempt of one call and either returns the tool's JSON result or raises
``ProviderCallError`` with a ``ToolErrorKind``. Timeouts, retries and the circuit breaker are
not the provider's business: ``lucy.providers.resilience`` wraps every provider the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from lucy.errors import LucyError
from lucy.models import ToolError, ToolErrorKind, ToolSpec


@dataclass(frozen=True)
class CallContext:
    """Who the call is for and until when it may run (``deadline`` on ``time.monotonic()``)."""

    workspace_id: str
    user_id: str | None
    deadline: float


class ProviderCallError(LucyError):
    """One attempt failed. ``status`` is the HTTP status when there was one; ``retry_after`` the
    seconds a 429/503 asked us to wait."""

    def __init__(
        self,
        kind: ToolErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.details = details or {}

    def to_tool_error(self) -> ToolError:
        details = dict(self.details)
        if self.status is not None:
            details.setdefault("status", self.status)
        return ToolError(
            kind=self.kind, message=str(self), details=details, retry_after=self.retry_after
        )


class ToolProvider(Protocol):
    """Executes tools of the toolkits it serves."""

    name: str

    def supports(self, tool: ToolSpec) -> bool:
        """Whether this provider can execute ``tool`` at all."""
        ...

    async def execute(self, tool: ToolSpec, arguments: dict[str, Any], context: CallContext) -> Any:
        """Run one attempt; return the JSON-able result or raise ``ProviderCallError``."""
        ...
