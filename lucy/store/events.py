"""Event ids already processed: auth and sync events arrive at least once, and each must take
effect once, whichever replica receives it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete

from lucy.errors import InvalidRequestError
from lucy.store.engine import StoreEngine
from lucy.store.schema import SeenEvent

_MAX_ID = 255  # the column's length


class SeenEvents:
    """``Database.events``."""

    def __init__(self, engine: StoreEngine) -> None:
        self._engine = engine

    async def mark_seen(self, event_id: str, kind: str, *, at: datetime | None = None) -> bool:
        """True the first time ``event_id`` is marked, False every time after, also when many
        callers mark the same id at once (the primary key decides)."""
        if not event_id or len(event_id) > _MAX_ID:
            raise InvalidRequestError(
                f"an event id must be 1-{_MAX_ID} characters", field="event_id"
            )
        stmt = (
            self._engine.insert(SeenEvent)
            .values(event_id=event_id, kind=kind, seen_at=at or datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
        async with self._engine.write("record a processed event") as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def prune(self, older_than: datetime) -> int:
        """Forget events seen before ``older_than``; returns how many were forgotten."""
        async with self._engine.write("prune processed events") as conn:
            result = await conn.execute(delete(SeenEvent).where(SeenEvent.seen_at < older_than))
            return result.rowcount
