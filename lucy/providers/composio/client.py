"""The Composio SDK client: how Lucy builds it, calls it from worker threads, and pages it.

``composio`` takes ~4.6 s to import, so it is imported when a client is built, never when this
module is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from lucy.models import ToolErrorKind
from lucy.providers.base import ProviderCallError

if TYPE_CHECKING:
    from composio import Composio
    from composio.sdk import SDKConfig

P = ParamSpec("P")
R = TypeVar("R")
T_co = TypeVar("T_co", covariant=True)

MAX_PAGES = 10_000


def build_sdk(api_key: str, *, base_url: str | None, timeout_seconds: float) -> Composio[Any, Any]:
    """A ``Composio`` client with telemetry off, the SDK's own retries off (Lucy's retry policy
    decides), ``base_url`` when given (else the SDK's default or ``COMPOSIO_BASE_URL``) and a
    per-request timeout. Makes no request."""
    from composio import Composio

    config: SDKConfig = {
        "api_key": api_key,
        "allow_tracking": False,
        "max_retries": 0,
        # SDKConfig types it int; the client hands any number on to httpx
        "timeout": timeout_seconds,  # type: ignore[typeddict-item]
    }
    if base_url:
        config["base_url"] = base_url
    return Composio(**config)


def untracked(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` with the SDK's telemetry off in the calling thread.

    ``allow_tracking=False`` only sets a context variable in the context that built the client;
    a call from another thread (a ``ThreadPoolExecutor`` worker starts from an empty context)
    would post an event to telemetry.composio.dev from a background thread. Seen with 0.30.0.
    """
    from composio.core.models.base import allow_tracking

    token = allow_tracking.set(False)
    try:
        return fn(*args, **kwargs)
    finally:
        allow_tracking.reset(token)


class Page(Protocol[T_co]):
    """One page of a Composio list answer."""

    @property
    def items(self) -> Sequence[T_co]: ...

    @property
    def next_cursor(self) -> str | None: ...


def read_all(fetch: Callable[[str | None], Page[T_co]], *, what: str) -> list[T_co]:
    """Every item of a cursor-paged listing: ``fetch(cursor)`` from ``None`` until a page has
    no ``next_cursor``. A cursor seen twice is a ``PROVIDER_ERROR`` (the listing would never
    end), so is a listing longer than ``MAX_PAGES`` pages."""
    items: list[T_co] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = fetch(cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if not cursor:
            return items
        if cursor in seen:
            break
        seen.add(cursor)
    raise ProviderCallError(
        ToolErrorKind.PROVIDER_ERROR, f"Composio's {what} listing does not end (cursor repeats)"
    )
