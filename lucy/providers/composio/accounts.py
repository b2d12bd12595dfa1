"""Which toolkits a Composio user has connected: ACTIVE accounts, read across all pages,
behind a short TTL cache for the execute path."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from lucy.providers.composio.client import read_all, untracked
from lucy.providers.composio.mapping import account_toolkit

if TYPE_CHECKING:
    from composio import Composio

_LAPSED: tuple[Literal["EXPIRED", "INACTIVE", "FAILED", "REVOKED"], ...] = (
    "EXPIRED",
    "INACTIVE",
    "FAILED",
    "REVOKED",
)


def _when(value: object) -> datetime | None:
    """An API timestamp (ISO 8601, ``Z`` or an offset) as an aware datetime; None if none."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ConnectedAccounts:
    """Reads the toolkits each Composio user id has an ACTIVE, enabled account for.

    ``read`` always asks Composio (and refreshes the cache); ``cached`` answers from a read at
    most ``ttl_seconds`` old. Both raise what the SDK raises. Thread-safe.
    """

    def __init__(
        self,
        sdk: Composio[Any, Any],
        *,
        page_size: int,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sdk = sdk
        self._page_size = page_size
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self.remote_slugs: dict[str, str] = {}
        """Lucy toolkit id → Composio toolkit slug, for every account seen."""

    def read(self, user_id: str) -> frozenset[str]:
        """The toolkit ids ``user_id`` has an ACTIVE account for, read now."""

        def page(cursor: str | None) -> Any:
            # the server filters by status too; ``account_toolkit`` checks again
            return untracked(
                self._sdk.connected_accounts.list,
                user_ids=[user_id],
                statuses=["ACTIVE"],
                limit=self._page_size,
                cursor=cursor,
            )

        found: set[str] = set()
        for account in read_all(page, what="connected accounts"):
            toolkit = account_toolkit(account)
            if toolkit is not None:
                found.add(toolkit)
                self.remote_slugs.setdefault(toolkit, account.toolkit.slug)
        toolkits = frozenset(found)
        with self._lock:
            self._cache[user_id] = (self._clock() + self._ttl, toolkits)
        return toolkits

    def user_of(self, account_id: str) -> str | None:
        """The Composio user id of a connected account (any status); None when Composio does
        not list it."""
        listed = untracked(
            self._sdk.connected_accounts.list, connected_account_ids=[account_id], limit=1
        )
        for account in getattr(listed, "items", None) or []:
            user = getattr(account, "user_id", None)
            if user:
                return str(user)
        return None

    def lapsed_since(self, since: datetime | None) -> list[tuple[str, str]]:
        """(account id, user id) of every account no longer ACTIVE (expired, inactive,
        failed, revoked) whose status changed at or after ``since`` (None: all of them)."""

        def page(cursor: str | None) -> Any:
            return untracked(
                self._sdk.connected_accounts.list,
                statuses=list(_LAPSED),
                order_by="updated_at",
                order_direction="desc",
                limit=self._page_size,
                cursor=cursor,
            )

        lapsed: list[tuple[str, str]] = []
        for account in read_all(page, what="lapsed connected accounts"):
            changed = _when(getattr(account, "updated_at", None))
            if since is None or changed is None or changed >= since:
                lapsed.append((str(account.id), str(account.user_id)))
        return lapsed

    def cached(self, user_id: str) -> frozenset[str]:
        """Like ``read``, but a read at most ``ttl_seconds`` old is served as it is."""
        with self._lock:
            entry = self._cache.get(user_id)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        return self.read(user_id)

    def forget(self, user_id: str) -> None:
        """Drop what is cached of ``user_id`` (an execution said it is not connected)."""
        with self._lock:
            self._cache.pop(user_id, None)
