"""Records of scheduled job runs: when each started and ended, what it counted, how it failed.
The scheduler itself lives in ``lucy.jobs``; this only writes down what it did."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from lucy.errors import InvalidRequestError
from lucy.store.engine import StoreEngine
from lucy.store.schema import JobRunRow


@dataclass(frozen=True)
class JobRunRecord:
    """One run as the database holds it; ``running`` until ``finish_run``."""

    id: int
    job: str
    fencing_token: int
    started_at: datetime
    finished_at: datetime | None = None
    ok: bool | None = None
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.finished_at is None


class JobRuns:
    """``Database.jobs``."""

    def __init__(self, engine: StoreEngine) -> None:
        self._engine = engine

    async def start_run(self, job: str, fencing_token: int, *, at: datetime | None = None) -> int:
        """Record that ``job`` started under the lock holder's ``fencing_token``; the run id."""
        stmt = (
            self._engine.insert(JobRunRow)
            .values(job=job, fencing_token=fencing_token, started_at=at or datetime.now(UTC))
            .returning(JobRunRow.id)
        )
        async with self._engine.write("record a job start") as conn:
            return (await conn.execute(stmt)).scalar_one()

    async def finish_run(
        self,
        run_id: int,
        ok: bool,
        counts: Mapping[str, int] | None = None,
        error: str | None = None,
        *,
        at: datetime | None = None,
    ) -> None:
        """Record the end of a run; ``InvalidRequestError`` if no such run is open."""
        stmt = (
            update(JobRunRow)
            .where(JobRunRow.id == run_id, JobRunRow.finished_at.is_(None))
            .values(
                finished_at=at or datetime.now(UTC), ok=ok, counts=dict(counts or {}), error=error
            )
        )
        async with self._engine.write("record a job end") as conn:
            if (await conn.execute(stmt)).rowcount != 1:
                raise InvalidRequestError(f"no open job run {run_id}", field="run_id")

    async def last_runs(self) -> dict[str, JobRunRecord]:
        """The latest run of each job (running or finished), by job name."""
        latest = select(func.max(JobRunRow.id)).group_by(JobRunRow.job)
        stmt = select(
            JobRunRow.id,
            JobRunRow.job,
            JobRunRow.fencing_token,
            JobRunRow.started_at,
            JobRunRow.finished_at,
            JobRunRow.ok,
            JobRunRow.counts,
            JobRunRow.error,
        ).where(JobRunRow.id.in_(latest))
        async with self._engine.read("read job runs") as conn:
            rows = (await conn.execute(stmt)).all()
        return {
            job: JobRunRecord(run_id, job, token, started, finished, ok, counts or {}, error)
            for run_id, job, token, started, finished, ok, counts, error in rows
        }

    async def last_success(self, job: str) -> datetime | None:
        """When the latest run of ``job`` that finished well started; None before any."""
        stmt = select(func.max(JobRunRow.started_at)).where(
            JobRunRow.job == job, JobRunRow.ok.is_(True)
        )
        async with self._engine.read("read job runs") as conn:
            found: datetime | None = (await conn.execute(stmt)).scalar_one_or_none()
        return found
