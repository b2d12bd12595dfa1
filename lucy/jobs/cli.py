"""``lucy jobs list``, ``lucy jobs run NAME`` and ``lucy worker``: the scheduled jobs, by hand
or in a process of their own (``LUCY_JOBS__IN_API=false`` keeps them out of the API)."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from lucy.console import console, errors
from lucy.settings import Settings

if TYPE_CHECKING:
    from lucy.jobs.lock import LocalLocks, RedisLocks
    from lucy.jobs.runner import JobContext

jobs_app = typer.Typer(help="The scheduled jobs (refresh, ...).", no_args_is_help=True)
T = TypeVar("T")


@jobs_app.command("list")
def jobs_list() -> None:
    """Every job and how often it runs."""
    from lucy.jobs.scheduler import intervals

    table = Table("job", "every (s)")
    for name, seconds in intervals(Settings().jobs).items():
        table.add_row(name, f"{seconds:g}")
    console.print(table)


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="The job, e.g. refresh.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Run one job now, in this process, under its lock (skipped if another runner holds it)."""
    from lucy.jobs.runner import JobRun, RunLog, run_job

    async def go(context: _Context) -> JobRun:
        return await run_job(name, context.job, context.locks, RunLog())

    with errors():
        run = asyncio.run(_with_context(go))
    if as_json:
        print(json.dumps(asdict(run)))
    elif not run.ran:
        console.print(f"{name}: skipped, another runner holds its lock")
    elif run.ok:
        console.print(f"{name}: done in {run.seconds:.1f} s {run.counts}")
    else:
        console.print(f"[red]{name} failed[/red]: {run.error}")
    if run.ran and not run.ok:
        raise typer.Exit(1)


def worker() -> None:
    """Run the job schedule in this process until interrupted (SIGINT or SIGTERM)."""
    from lucy.jobs.runner import RunLog
    from lucy.jobs.scheduler import start_scheduler

    async def go(context: _Context) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        scheduler = start_scheduler(context.job, context.locks, RunLog(), context.settings.jobs)
        console.print("lucy worker: jobs scheduled; Ctrl-C stops")
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)

    with errors():
        asyncio.run(_with_context(go))


@dataclass(frozen=True)
class _Context:
    settings: Settings
    job: JobContext
    locks: RedisLocks | LocalLocks


async def _with_context(action: Callable[[_Context], Awaitable[T]]) -> T:
    async with _opened() as context:
        return await action(context)


@asynccontextmanager
async def _opened() -> AsyncIterator[_Context]:
    from lucy.capability_index.service import CapabilityIndex
    from lucy.jobs.lock import RedisLocks, job_locks
    from lucy.jobs.pending import pending_refreshes
    from lucy.jobs.runner import job_context
    from lucy.providers.configured import providers_from_settings
    from lucy.store import Database, database_url

    settings = Settings()
    async with providers_from_settings(settings) as providers:
        index = CapabilityIndex(settings, readers=providers.readers)  # migrates the database
        database = await Database.open(database_url(settings.database_url, settings.data_dir))
        locks = job_locks(settings)
        job = job_context(index, providers, pending_refreshes(settings), database, settings)
        try:
            yield _Context(settings, job, locks)
        finally:
            index.close()
            await database.close()
            if isinstance(locks, RedisLocks):
                locks.close()
