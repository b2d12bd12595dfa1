"""Per-tool usage: how often each tool was called, how often it worked, when it last ran."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, select

from lucy.models import TraceRecord
from lucy.store.engine import StoreEngine
from lucy.store.schema import ToolUsage


@dataclass(frozen=True)
class UsageStats:
    calls: int
    successes: int
    failures: int
    last_used: datetime

    @property
    def success_rate(self) -> float:
        return self.successes / self.calls if self.calls else 0.0


class UsageCounts:
    """``Database.usage``."""

    def __init__(self, engine: StoreEngine) -> None:
        self._engine = engine

    async def record_call(self, slug: str, ok: bool, *, at: datetime | None = None) -> None:
        """Count one call of ``slug`` and its outcome; one atomic upsert, so concurrent calls
        from any number of replicas are all counted."""
        at = at or datetime.now(UTC)
        stmt = self._engine.insert(ToolUsage).values(
            slug=slug, calls=1, successes=int(ok), failures=int(not ok), last_used=at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["slug"],
            set_={
                "calls": ToolUsage.calls + 1,
                "successes": ToolUsage.successes + stmt.excluded.successes,
                "failures": ToolUsage.failures + stmt.excluded.failures,
                # calls may be recorded out of order: keep the latest time
                "last_used": case(
                    (stmt.excluded.last_used > ToolUsage.last_used, stmt.excluded.last_used),
                    else_=ToolUsage.last_used,
                ),
            },
        )
        async with self._engine.write("record a tool call") as conn:
            await conn.execute(stmt)

    async def stats(self) -> dict[str, UsageStats]:
        """Every tool's counters, by slug."""
        stmt = select(
            ToolUsage.slug,
            ToolUsage.calls,
            ToolUsage.successes,
            ToolUsage.failures,
            ToolUsage.last_used,
        )
        async with self._engine.read("read tool usage") as conn:
            rows = (await conn.execute(stmt)).all()
        return {
            slug: UsageStats(calls, successes, failures, last_used)
            for slug, calls, successes, failures, last_used in rows
        }


class UsageRecorder:
    """A trace sink that counts each executed tool call of a request in ``UsageCounts`` (the
    usage roll-up job carries the counts into the index)."""

    def __init__(self, usage: UsageCounts) -> None:
        self._usage = usage

    async def append(self, record: TraceRecord) -> None:
        for call in record.tool_calls:
            await self._usage.record_call(call.slug, call.ok)
