"""Running jobs: under their lock, recorded, nothing lost when a targeted refresh fails, on a
schedule (APScheduler in a running loop), and by hand from the CLI."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from typer.testing import CliRunner

from lucy.cli import app
from lucy.errors import InvalidRequestError
from lucy.jobs.lock import LocalLocks
from lucy.jobs.pending import PendingRefreshes, RedisPending
from lucy.jobs.runner import JobContext, RunLog, run_job
from lucy.jobs.scheduler import start_scheduler
from lucy.settings import JobSettings
from tests.test_refresh import Source, fresh_sources, open_index

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def context(tmp_path, embedder, small_catalog):
    index = open_index(tmp_path, embedder)
    sources = fresh_sources(small_catalog)
    yield JobContext(index, sources, PendingRefreshes())
    index.close()


def test_an_unknown_job_is_refused(context) -> None:
    with pytest.raises(InvalidRequestError, match="refresh_pending"):
        asyncio.run(run_job("nope", context, LocalLocks(), RunLog()))


def test_a_job_someone_else_holds_is_skipped_and_recorded(context) -> None:
    locks, runs = LocalLocks(), RunLog()
    held = locks.acquire("refresh")
    assert held is not None
    run = asyncio.run(run_job("refresh", context, locks, runs))
    assert not run.ran and run.ok and runs.last()["refresh"] == run
    assert context.index.store.live() is None  # nothing was built


def test_a_refresh_runs_and_records_its_counts(context) -> None:
    runs = RunLog()
    run = asyncio.run(run_job("refresh", context, LocalLocks(), runs))
    assert run.ran and run.ok and run.counts["tools"] > 0 and run.token == 1
    again = asyncio.run(run_job("refresh", context, LocalLocks(), runs))
    assert again.counts["embedded"] == 0  # nothing changed: every embedding reused


class Broken(Source):
    async def list_tools(self):  # type: ignore[override]
        raise ConnectionError("provider down")


def test_a_failed_targeted_refresh_keeps_its_toolkits_pending(context) -> None:
    asyncio.run(run_job("refresh", context, LocalLocks(), RunLog()))
    remote = context.sources[0]
    context.sources[0] = Broken(remote.name, remote.listing)
    context.pending.add("github")
    run = asyncio.run(run_job("refresh_pending", context, LocalLocks(), RunLog()))
    assert run.ran and not run.ok and "provider down" in (run.error or "")
    assert context.pending.peek() == {"github"}  # nothing lost: the next run tries again


def test_the_schedule_runs_pending_refreshes(context) -> None:
    asyncio.run(run_job("refresh", context, LocalLocks(), RunLog()))
    before = context.index.store.live()
    context.pending.add("linear")
    runs = RunLog()
    settings = JobSettings(refresh_seconds=3600, refresh_pending_seconds=0.1)

    async def scheduled() -> None:
        scheduler = start_scheduler(context, LocalLocks(), runs, settings)
        try:
            for _ in range(300):  # bounded: at most 30 s
                if context.index.store.live() != before and "refresh_pending" in runs.last():
                    return
                await asyncio.sleep(0.1)
        finally:
            scheduler.shutdown(wait=False)

    asyncio.run(scheduled())
    assert context.index.store.live() != before  # the targeted refresh built a version
    assert runs.last()["refresh_pending"].ok and "refresh" not in runs.last()
    assert context.pending.peek() == set()


def test_the_redis_queue_hands_each_toolkit_to_one_taker() -> None:
    queue = RedisPending(REDIS_URL)
    queue.take()  # start empty
    queue.add("linear")
    queue.add("github")
    queue.add("linear")
    assert queue.peek() == {"linear", "github"}
    assert queue.take() == {"linear", "github"} and queue.take() == set()


def test_jobs_from_the_command_line(tmp_path) -> None:
    env = {"LUCY_DATA_DIR": str(tmp_path), "LUCY_DEMO_CATALOG": "false"}
    listed = CliRunner().invoke(app, ["jobs", "list"], env=env)
    assert listed.exit_code == 0 and "refresh_pending" in listed.output
    unknown = CliRunner().invoke(app, ["jobs", "run", f"no-{uuid.uuid4().hex[:4]}"], env=env)
    assert unknown.exit_code == 2 and "no job named" in unknown.output


def test_runs_are_recorded_in_the_database(context, tmp_path) -> None:
    from lucy.store import Database, upgrade

    url = f"sqlite:///{tmp_path}/jobs.db"

    async def go() -> dict:
        await upgrade(url)
        async with await Database.open(url) as db:
            context.history = db.jobs
            await run_job("refresh", context, LocalLocks(), RunLog())
            return await db.jobs.last_runs()

    last = asyncio.run(go())["refresh"]
    assert last.ok and last.fencing_token == 1 and last.counts["tools"] > 0
    assert last.finished_at is not None and last.error is None


def test_the_retention_job_deletes_old_trace_records(context, tmp_path) -> None:
    from datetime import UTC, datetime, timedelta

    from lucy.jobs.runner import TraceRetention
    from lucy.models import TraceRecord
    from lucy.store import Database, upgrade

    url = f"sqlite:///{tmp_path}/traces.db"

    def record(days_ago: float) -> TraceRecord:
        ts = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
        return TraceRecord(
            ts=ts,
            request_id=uuid.uuid4().hex,
            workspace_id="W",
            query="q",
            tool_calls=[],
            final_text_ok=True,
        )

    async def go() -> tuple[int, int]:
        await upgrade(url)
        async with await Database.open(url) as db:
            for days in (40, 31, 2):
                await db.traces.append(record(days))
            context.traces = TraceRetention(db.traces, days=30)
            run = await run_job("traces_retention", context, LocalLocks(), RunLog())
            return run.counts["deleted"], len(await db.traces.read())

    assert asyncio.run(go()) == (2, 1)


class History:
    """The database's job runs, as the runner and the sweep use them."""

    def __init__(self, last_success) -> None:
        self.last = last_success
        self.asked: list[str] = []
        self.runs = 0

    async def start_run(self, job: str, fencing_token: int) -> int:
        self.runs += 1
        return self.runs

    async def finish_run(self, run_id, ok, counts=None, error=None) -> None:
        return None

    async def last_success(self, job: str):
        self.asked.append(job)
        return self.last


class Sweeper:
    name = "remote"

    def __init__(self, owners) -> None:
        self.owners = owners
        self.since: list[object] = []

    def lapsed_owners(self, since):
        self.since.append(since)
        return list(self.owners)


def test_the_sweep_forgets_owners_whose_connections_lapsed_since_the_last_good_one(
    context,
) -> None:
    from datetime import UTC, datetime

    from lucy.jobs.runner import SWEEP_OVERLAP

    index = context.index
    forgotten: list[tuple[str, str | None]] = []
    real = index.invalidate_connections
    index.invalidate_connections = lambda w, u=None: (forgotten.append((w, u)), real(w, u))
    last = datetime(2026, 12, 1, 12, tzinfo=UTC)
    sweeper = Sweeper([("T5", None), ("T5", "U1"), ("T5", None), ("bad id!", None)])
    context.history, context.sweepers = History(last), [sweeper]
    try:
        run = asyncio.run(run_job("connection_sweep", context, LocalLocks(), RunLog()))
    finally:
        del index.invalidate_connections
    assert run.ok, run.error
    assert sweeper.since == [last - SWEEP_OVERLAP]  # looks back from the last good sweep
    assert forgotten[:2] == [("T5", None), ("T5", "U1")]  # each owner once
    assert run.counts == {"lapsed_owners": 2}  # the invalid id is skipped, not an error
