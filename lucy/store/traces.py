"""The trace records ``/v1/respond`` writes, kept for ``trace_retention_days`` and exported as
the JSONL file ``lucy eval from-traces`` reads (the format ``lucy.planner.trace.TraceLog``
writes: one ``TraceRecord`` JSON object a line)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, delete, or_, select

from lucy.errors import InvalidRequestError
from lucy.models import TraceRecord
from lucy.store.engine import StoreEngine
from lucy.store.schema import TraceRow


class TraceRecords:
    """``Database.traces``."""

    def __init__(self, engine: StoreEngine) -> None:
        self._engine = engine

    async def append(self, record: TraceRecord) -> None:
        """Store one record."""
        stmt = self._engine.insert(TraceRow).values(
            ts=record_time(record),
            request_id=record.request_id,
            workspace_id=record.workspace_id,
            record=record.model_dump(mode="json"),
        )
        async with self._engine.write("store a trace record") as conn:
            await conn.execute(stmt)

    async def read(
        self, since: datetime | None = None, limit: int | None = None
    ) -> list[TraceRecord]:
        """Records answered at or after ``since``, oldest first; at most ``limit`` of them (the
        oldest)."""
        stmt = select(TraceRow.record).order_by(TraceRow.ts, TraceRow.id)
        if since is not None:
            stmt = stmt.where(TraceRow.ts >= since)
        if limit is not None:
            stmt = stmt.limit(limit)
        async with self._engine.read("read trace records") as conn:
            rows = (await conn.execute(stmt)).scalars().all()
        return [TraceRecord.model_validate(row) for row in rows]

    async def prune(self, older_than_days: float, *, now: datetime | None = None) -> int:
        """Delete records older than ``older_than_days``; returns how many were deleted."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
        async with self._engine.write("prune trace records") as conn:
            return (await conn.execute(delete(TraceRow).where(TraceRow.ts < cutoff))).rowcount

    async def export_jsonl(
        self, path: Path, *, since: datetime | None = None, page_size: int = 1000
    ) -> int:
        """Write every record (answered at or after ``since``), oldest first, to ``path`` as
        JSONL; the file is replaced whole once complete. Returns how many were written. Rows
        are read ``page_size`` at a time: bounded memory, no long-running read."""
        if page_size < 1:
            raise InvalidRequestError("page_size must be at least 1", field="page_size")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        written = 0
        after: tuple[datetime, int] | None = None
        try:
            with partial.open("w", encoding="utf-8") as fh:
                while True:
                    page = await self._page(since, after, page_size)
                    for ts, row_id, data in page:
                        fh.write(TraceRecord.model_validate(data).model_dump_json() + "\n")
                        after = (ts, row_id)
                    written += len(page)
                    if len(page) < page_size:
                        break
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return written

    async def _page(
        self, since: datetime | None, after: tuple[datetime, int] | None, size: int
    ) -> list[tuple[datetime, int, dict[str, object]]]:
        stmt = (
            select(TraceRow.ts, TraceRow.id, TraceRow.record)
            .order_by(TraceRow.ts, TraceRow.id)
            .limit(size)
        )
        if since is not None:
            stmt = stmt.where(TraceRow.ts >= since)
        if after is not None:
            ts, row_id = after
            stmt = stmt.where(or_(TraceRow.ts > ts, and_(TraceRow.ts == ts, TraceRow.id > row_id)))
        async with self._engine.read("export trace records") as conn:
            return [(ts, row_id, data) for ts, row_id, data in (await conn.execute(stmt)).all()]


def record_time(record: TraceRecord) -> datetime:
    """When the request was answered, as an aware UTC time (a naive ``ts`` is taken as UTC)."""
    ts = datetime.fromisoformat(record.ts)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
