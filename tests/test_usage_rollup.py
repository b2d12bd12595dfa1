"""Usage into the index: executed calls counted in the database become each tool's usage
figures in the live payloads (the ``usage_rollup`` job), the retriever's prior follows them, a
rebuild keeps them, and every replica reads the changed payloads (Redis pub/sub)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from lucy.capability_index.service import CapabilityIndex
from lucy.jobs.lock import LocalLocks
from lucy.jobs.pending import PendingRefreshes
from lucy.jobs.runner import JobContext, RunLog, run_job
from lucy.settings import RetrievalWeights
from tests.conftest import make_settings
from tests.test_refresh import fresh_sources

REDIS_URL = "redis://127.0.0.1:6379/0"
QUERY = "list the issues in the repository"


@dataclass(frozen=True)
class Figures:
    calls: int
    successes: int


class Usage:
    """``lucy.store.UsageCounts`` as the roll-up reads it, with figures the test sets."""

    def __init__(self) -> None:
        self.figures: dict[str, Figures] = {}

    async def stats(self) -> dict[str, Figures]:
        return dict(self.figures)


def open_index(path: Path, embedder, **settings: object) -> CapabilityIndex:
    weights = RetrievalWeights(usage_prior_weight=1.0)  # a prior strong enough to see
    return CapabilityIndex(
        make_settings(path, demo_catalog=False, retrieval=weights, **settings), embedder=embedder
    )


def roll_up(ctx: JobContext) -> dict[str, int]:
    run = asyncio.run(run_job("usage_rollup", ctx, LocalLocks(), RunLog()))
    assert run.ran and run.ok, run.error
    return run.counts


def test_usage_reaches_the_payloads_the_prior_and_the_ranking(
    tmp_path, embedder, small_catalog
) -> None:
    index = open_index(tmp_path, embedder)
    usage = Usage()
    ctx = JobContext(index, fresh_sources(small_catalog), PendingRefreshes(), usage=usage)
    try:
        assert roll_up(ctx) == {"tools": 0, "updated": 0}  # no index yet, nothing used
        asyncio.run(run_job("refresh", ctx, LocalLocks(), RunLog()))
        index.connect("W1", ["github", "linear", "slack"])
        before = index.retrieve(QUERY, workspace_id="W1", k=5).candidates
        leader, runner_up = before[0].slug, before[3].slug
        usage.figures = {
            runner_up: Figures(calls=120, successes=118),
            leader: Figures(calls=3, successes=0),  # called, and it never worked
            "NOT_IN_THE_INDEX": Figures(calls=9, successes=9),
        }
        assert roll_up(ctx) == {"tools": 3, "updated": 2}
        snapshot = index.snapshots.get(index.live_version())
        assert snapshot.by_slug[runner_up]["usage"] == {"calls": 120, "successes": 118}
        assert snapshot.priors[runner_up] == 1.0
        assert snapshot.priors[leader] == 0.0
        after = index.retrieve(QUERY, workspace_id="W1", k=5).candidates
        assert after[0].slug == runner_up
        assert roll_up(ctx) == {"tools": 3, "updated": 0}  # the same figures: nothing written

        asyncio.run(run_job("refresh", ctx, LocalLocks(), RunLog()))  # a new version
        rebuilt = index.snapshots.get(index.live_version())
        assert rebuilt.version != snapshot.version
        assert rebuilt.by_slug[runner_up]["usage"] == {"calls": 120, "successes": 118}
    finally:
        index.close()


def test_a_roll_up_on_one_replica_reaches_the_others(tmp_path, embedder, small_catalog) -> None:
    a = open_index(tmp_path, embedder, redis_url=REDIS_URL)
    b = CapabilityIndex(a.settings, embedder=embedder, store=a.store)
    try:
        assert a.bus is not None and b.bus is not None
        assert a.bus.wait_subscribed(5) and b.bus.wait_subscribed(5)
        ctx = JobContext(a, fresh_sources(small_catalog), PendingRefreshes())
        asyncio.run(run_job("refresh", ctx, LocalLocks(), RunLog()))
        live = b.live_version()
        slug = next(iter(b.snapshots.get(live).by_slug))
        assert "usage" not in b.snapshots.get(live).by_slug[slug]  # b holds the version
        assert a.apply_usage({slug: Figures(calls=5, successes=5)}) == 1
        deadline = time.monotonic() + 5
        while "usage" not in b.snapshots.get(live).by_slug[slug]:
            assert time.monotonic() < deadline, "replica b never read the new payloads"
            time.sleep(0.02)
        assert b.snapshots.get(live).priors[slug] == 1.0
    finally:
        b.close()
        a.close()
