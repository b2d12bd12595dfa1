"""Helpers for the store tests: throwaway PostgreSQL databases on the local server, and running
a scenario against an open ``Database``."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import asyncpg
import pytest

from lucy.store import Database
from lucy.store.engine import make_engine
from lucy.store.schema import Base

T = TypeVar("T")

# the server CI starts (.ci/run); its maintenance database is where test databases are made
POSTGRES_SERVER = os.environ.get(
    "LUCY_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/postgres"
)
_HOST_PORT = POSTGRES_SERVER.split("@", 1)[-1].rsplit("/", 1)[0]


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_SERVER, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def postgres_answers() -> None:
    """Fail (never skip) when the PostgreSQL server is not answering: CI starts it."""
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is not answering at {POSTGRES_SERVER} ({exc}); the store tests run on "
            "it as well as on SQLite. Start it (.ci/run does: pg_ctlcluster "
            "--skip-systemctl-redirect $(ls /etc/postgresql) main start) or point "
            "LUCY_TEST_POSTGRES_URL at one.",
            pytrace=False,
        )


@contextmanager
def postgres_database(tag: str = "") -> Iterator[str]:
    """A new, empty database ``lucy_test_<hex>``; dropped on exit. Yields its URL."""
    name = f"lucy_test_{secrets.token_hex(6)}{tag}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://root@{_HOST_PORT}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def wipe(url: str) -> None:
    """Delete every row of Lucy's tables (children first); the schema stays."""

    async def run() -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                for table in reversed(Base.metadata.sorted_tables):
                    await conn.execute(table.delete())
        finally:
            await engine.dispose()

    asyncio.run(run())


DEMO = frozenset({"github", "slack", "linear"})


def on_db(
    url: str,
    scenario: Callable[[Database], Awaitable[T]],
    *,
    demo_toolkits: Iterable[str] = DEMO,
    **options: float,
) -> T:
    """Open a ``Database`` at ``url``, run ``scenario`` with it on a new event loop, close it."""

    async def main() -> T:
        async with await Database.open(url, demo_toolkits=demo_toolkits, **options) as db:
            return await scenario(db)

    return asyncio.run(main())
