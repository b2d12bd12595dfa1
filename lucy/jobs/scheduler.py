"""The schedule: APScheduler 3.11's ``AsyncIOScheduler`` running each job at its interval, in
the API process (``LUCY_JOBS__IN_API``) or in ``lucy worker``. Every replica may schedule every
job: the job's lock makes one of them run it, the others skip that round."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from lucy.jobs.lock import Locks
from lucy.jobs.runner import JobContext, RunLog, run_job
from lucy.settings import JobSettings


def intervals(settings: JobSettings) -> dict[str, float]:
    """Seconds between runs of each job."""
    return {
        "refresh": settings.refresh_seconds,
        "refresh_pending": settings.refresh_pending_seconds,
        "traces_retention": settings.retention_seconds,
        "usage_rollup": settings.usage_rollup_seconds,
        "connection_sweep": settings.sweep_seconds,
    }


def start_scheduler(
    ctx: JobContext, locks: Locks, runs: RunLog, settings: JobSettings
) -> AsyncIOScheduler:
    """Schedule every job (first run one interval from now) and start; call in a running loop.
    ``scheduler.shutdown(wait=False)`` stops it."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    now = datetime.now(UTC)
    for name, seconds in intervals(settings).items():
        scheduler.add_job(
            run_job,
            "interval",
            seconds=seconds,
            args=[name, ctx, locks, runs],
            id=name,
            name=name,
            max_instances=1,  # a slow run is not overlapped by the next one here
            coalesce=True,  # missed rounds (a busy loop) run once, not in a burst
            next_run_time=now + timedelta(seconds=seconds),
        )
    scheduler.start()
    return scheduler
