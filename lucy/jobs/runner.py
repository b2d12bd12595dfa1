"""The jobs Lucy runs on a schedule, and running one under its lock.

Each job is a plain async function of a ``JobContext``; ``run_job`` takes the job's lock
(``lock.py``), runs it, and records the run (start, end, counts, error) in ``RunLog`` (and the
database once it holds job runs). A job another replica is running is skipped, not queued.

========================= ========================================================
job                       what it does
========================= ========================================================
``refresh``               lists every source again and makes a new version live
``refresh_pending``       refreshes only the toolkits sync events or MCP
                          ``tools/list_changed`` marked (nothing to do: no build)
``traces_retention``      deletes trace records older than ``LUCY_TRACE_RETENTION_DAYS``
``usage_rollup``          writes each tool's calls and successes (from the database) into
                          the live version's payloads: the retriever's usage prior
``connection_sweep``      forgets the connection state of owners whose connections lapsed
                          (expired, revoked) since the last good sweep
========================= ========================================================
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from lucy.capability_index.service import CapabilityIndex, ToolUsage
from lucy.capability_index.sources import ListingSource
from lucy.errors import InvalidRequestError
from lucy.jobs.lock import Lease, Locks
from lucy.jobs.pending import Pending
from lucy.jobs.refresh import refresh_index
from lucy.providers.base import ConnectionSweeper
from lucy.providers.configured import ProviderSet
from lucy.settings import Settings
from lucy.store import Database

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    index: CapabilityIndex
    sources: Sequence[ListingSource]
    pending: Pending
    changed: Callable[[], set[str]] = field(default=lambda: set())
    """Toolkits the providers themselves marked as changed (MCP ``tools/list_changed``)."""
    history: JobHistory | None = None
    """Where runs are recorded durably (the database's job runs); None: this process only."""
    traces: TraceRetention | None = None
    """The stored trace records and how long they are kept."""
    usage: UsageSource | None = None
    """Per-tool call counts (the database's); None: the roll-up has nothing to do."""
    sweepers: Sequence[ConnectionSweeper] = ()
    """Providers that list lapsed connections (Composio), for ``connection_sweep``."""


def job_context(
    index: CapabilityIndex,
    providers: ProviderSet,
    pending: Pending,
    database: Database,
    settings: Settings,
) -> JobContext:
    """The context the API's scheduler, ``lucy worker`` and ``lucy jobs run`` give jobs."""
    return JobContext(
        index,
        providers.sources,
        pending,
        changed=providers.changed_toolkits,
        history=database.jobs,
        traces=TraceRetention(database.traces, settings.trace_retention_days),
        usage=database.usage,
        sweepers=providers.sweepers,
    )


@dataclass(frozen=True)
class TraceRetention:
    records: PrunableTraces
    days: float


class PrunableTraces(Protocol):
    """``lucy.store.TraceRecords`` as the retention job uses it."""

    async def prune(self, older_than_days: float) -> int: ...


class UsageSource(Protocol):
    """``lucy.store.UsageCounts`` as the roll-up uses it."""

    async def stats(self) -> Mapping[str, ToolUsage]: ...


class JobHistory(Protocol):
    """``lucy.store.JobRuns`` as the runner uses it."""

    async def start_run(self, job: str, fencing_token: int) -> int: ...

    async def finish_run(
        self, run_id: int, ok: bool, counts: dict[str, int] | None = None, error: str | None = None
    ) -> None: ...

    async def last_success(self, job: str) -> datetime | None: ...


Counts = dict[str, int]
Job = Callable[[JobContext, Lease], Awaitable[Counts]]


async def refresh(ctx: JobContext, lease: Lease) -> Counts:
    report = await refresh_index(ctx.index, ctx.sources, lease)
    return report.counts()


async def refresh_pending(ctx: JobContext, lease: Lease) -> Counts:
    toolkits = ctx.pending.take() | ctx.changed()
    if not toolkits:
        return {"toolkits": 0}
    try:
        report = await refresh_index(ctx.index, ctx.sources, lease, toolkits=toolkits)
    except BaseException:
        for toolkit in toolkits:  # nothing is lost: the next run tries them again
            ctx.pending.add(toolkit)
        raise
    return {"toolkits": len(toolkits), **report.counts()}


async def traces_retention(ctx: JobContext, lease: Lease) -> Counts:
    if ctx.traces is None:
        return {"deleted": 0}
    return {"deleted": await ctx.traces.records.prune(ctx.traces.days)}


async def usage_rollup(ctx: JobContext, lease: Lease) -> Counts:
    if ctx.usage is None:
        return {"tools": 0, "updated": 0}
    stats = await ctx.usage.stats()
    lease.check()
    updated = await asyncio.to_thread(ctx.index.apply_usage, stats)
    return {"tools": len(stats), "updated": updated}


SWEEP_OVERLAP = timedelta(minutes=5)  # clocks differ: each sweep looks back a little further


async def connection_sweep(ctx: JobContext, lease: Lease) -> Counts:
    """Forget the connection state of every owner whose connection lapsed (expired, revoked)
    since the last good sweep began: the backstop for a webhook that never came."""
    since = None
    if ctx.history is not None:
        last = await ctx.history.last_success("connection_sweep")
        since = None if last is None else last - SWEEP_OVERLAP
    owners: list[tuple[str, str | None]] = []
    for sweeper in ctx.sweepers:
        owners += await asyncio.to_thread(sweeper.lapsed_owners, since)
    lease.check()
    forgotten = await asyncio.to_thread(ctx.index.forget_owners, owners)
    return {"lapsed_owners": len(forgotten)}


JOBS: dict[str, Job] = {
    "refresh": refresh,
    "refresh_pending": refresh_pending,
    "traces_retention": traces_retention,
    "usage_rollup": usage_rollup,
    "connection_sweep": connection_sweep,
}


@dataclass(frozen=True)
class JobRun:
    job: str
    started: str
    seconds: float
    ran: bool
    ok: bool
    counts: Counts
    error: str | None = None
    token: int | None = None


class RunLog:
    """The last run of each job in this process (``/readyz`` shows it)."""

    def __init__(self) -> None:
        self._last: dict[str, JobRun] = {}
        self._lock = threading.Lock()

    def record(self, run: JobRun) -> None:
        with self._lock:
            self._last[run.job] = run

    def last(self) -> dict[str, JobRun]:
        with self._lock:
            return dict(self._last)


async def run_job(name: str, ctx: JobContext, locks: Locks, runs: RunLog) -> JobRun:
    """Run job ``name`` if no other runner holds it; the run, recorded in ``runs``."""
    job = JOBS.get(name)
    if job is None:
        raise InvalidRequestError(f"no job named {name!r}; jobs: {sorted(JOBS)}", field="job")
    started, began = datetime.now(UTC).isoformat(), time.perf_counter()
    lease = locks.acquire(name)
    if lease is None:
        run = JobRun(name, started, 0.0, ran=False, ok=True, counts={})
        runs.record(run)
        return run
    run_id = None
    try:
        if ctx.history is not None:
            run_id = await ctx.history.start_run(name, lease.token)
        counts = await job(ctx, lease)
    except Exception as exc:
        log.exception("job %s failed", name)
        run = JobRun(
            name,
            started,
            time.perf_counter() - began,
            ran=True,
            ok=False,
            counts={},
            error=f"{type(exc).__name__}: {exc}",
            token=lease.token,
        )
    else:
        seconds = time.perf_counter() - began
        run = JobRun(name, started, seconds, ran=True, ok=True, counts=counts, token=lease.token)
    finally:
        lease.release()
    if ctx.history is not None and run_id is not None:
        await ctx.history.finish_run(run_id, run.ok, run.counts, run.error)
    runs.record(run)
    return run
