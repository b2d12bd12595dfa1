"""``Database``: Lucy's durable state behind one async engine, one small store per concern.

    db = await Database.open(url, demo_toolkits=...)
    await db.connections.connect("T024BE7LD", ["github"])
    first = await db.events.mark_seen(event_id, "auth")
    await db.close()

Open one per process and event loop (the engine's connections belong to the loop that opened
them). Failures to reach the database raise ``BackendUnavailableError(backend="database")``.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

from lucy.store.connections import ConnectionRecords
from lucy.store.engine import StoreEngine, make_engine
from lucy.store.events import SeenEvents
from lucy.store.jobs import JobRuns
from lucy.store.traces import TraceRecords
from lucy.store.usage import UsageCounts


class Database:
    """The stores: ``connections``, ``events``, ``usage``, ``jobs``, ``traces``."""

    def __init__(self, engine: StoreEngine, *, demo_toolkits: Iterable[str] = ()) -> None:
        self._engine = engine
        self.connections = ConnectionRecords(engine, demo_toolkits=demo_toolkits)
        self.events = SeenEvents(engine)
        self.usage = UsageCounts(engine)
        self.jobs = JobRuns(engine)
        self.traces = TraceRecords(engine)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        demo_toolkits: Iterable[str] = (),
        connect_timeout: float = 5.0,
        statement_timeout: float | None = 30.0,
    ) -> Database:
        """A database at ``url`` (see ``lucy.store.urls``), with its schema migrated already
        (``lucy.store.upgrade``). Opening does not connect: a database that is down fails the
        first read or write, within ``connect_timeout`` seconds. ``demo_toolkits`` are what
        the ``demo`` workspace has until its first change."""
        engine = make_engine(
            url, connect_timeout=connect_timeout, statement_timeout=statement_timeout
        )
        return cls(StoreEngine(engine), demo_toolkits=demo_toolkits)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._engine.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
