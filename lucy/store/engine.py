"""The engine behind every store: one ``AsyncEngine`` with short timeouts, transactions that
turn "the database cannot be reached" into ``BackendUnavailableError``, and the dialect's
``INSERT ... ON CONFLICT`` (SQLite and PostgreSQL spell it alike)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from lucy.errors import BackendUnavailableError
from lucy.store.schema import Base
from lucy.store.urls import async_url, redacted

# what a database that is down, unreachable, too slow or out of connections looks like here
DOWN = (OperationalError, InterfaceError, OSError, TimeoutError, PoolTimeoutError)

Insert = postgresql.Insert | sqlite.Insert


def make_engine(
    url: str, *, connect_timeout: float = 5.0, statement_timeout: float | None = 30.0
) -> AsyncEngine:
    """An async engine for ``url`` (any form ``async_url`` accepts). It does not connect yet.

    PostgreSQL: ``connect_timeout`` bounds opening a connection and ``statement_timeout`` each
    statement (None = unbounded), so a database that is down fails fast. SQLite: the parent
    folder is created, foreign keys are enforced, and a writer waits up to ``statement_timeout``
    (default 30 s) for another writer's lock."""
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        return _sqlite_engine(target, busy_timeout=statement_timeout or 30.0)
    return create_async_engine(
        target,
        pool_pre_ping=True,  # a restarted server leaves dead pooled connections behind
        connect_args={"timeout": connect_timeout, "command_timeout": statement_timeout},
    )


def _sqlite_engine(target: URL, *, busy_timeout: float) -> AsyncEngine:
    assert target.database is not None  # async_url refuses SQLite URLs without a path
    Path(target.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(target, connect_args={"timeout": busy_timeout})

    @event.listens_for(engine.sync_engine, "do_connect")
    def _probe(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> None:
        # a file SQLite cannot open fails here, before aiosqlite starts a worker thread: after a
        # failed open that thread reports back to the event loop late, and raises if the loop
        # has closed meanwhile (as it has when a CLI command ends on the error)
        sqlite3.connect(cargs[0], uri=bool(cparams.get("uri"))).close()

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL: readers never wait for the writer; foreign keys: as strict as PostgreSQL
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def unavailable(url: URL, action: str, exc: BaseException) -> BackendUnavailableError:
    """The error a caller sees when the database failed while doing ``action``."""
    cause = getattr(exc, "orig", None) or exc
    detail = str(cause).strip() or (
        "no answer in time" if isinstance(cause, TimeoutError) else type(cause).__name__
    )
    return BackendUnavailableError(
        f"the database at {redacted(url)} is unavailable: could not {action} ({detail})",
        backend="database",
    )


class StoreEngine:
    """The one engine of a ``Database``, shared by its stores."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def write(self, action: str) -> AsyncIterator[AsyncConnection]:
        """A transaction, committed on exit; a database that is down raises
        ``BackendUnavailableError`` naming ``action`` (e.g. "record a tool call")."""
        try:
            async with self.engine.begin() as conn:
                yield conn
        except DOWN as exc:
            raise unavailable(self.engine.url, action, exc) from exc

    @asynccontextmanager
    async def read(self, action: str) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; failures raise like ``write``."""
        try:
            async with self.engine.connect() as conn:
                yield conn
        except DOWN as exc:
            raise unavailable(self.engine.url, action, exc) from exc

    def insert(self, table: type[Base]) -> Insert:
        """``INSERT`` with ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def close(self) -> None:
        await self.engine.dispose()
