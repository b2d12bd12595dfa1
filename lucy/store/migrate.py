"""Schema migrations (Alembic), run in code: at start and by ``lucy db upgrade``.

``upgrade`` holds one transaction for the whole upgrade. On PostgreSQL it first takes a
transaction-scoped advisory lock, so when several replicas start at once one migrates and the
others wait, then find the schema at head and do nothing. A SQLite file belongs to one process.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from lucy.store.engine import DOWN, make_engine, unavailable

MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key of the schema migration: "lucy" in ASCII
MIGRATION_LOCK = 0x6C756379


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for Lucy's migrations, on ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The revision the code expects the schema to be at."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (default: head). Idempotent; safe when
    several processes call it at once on PostgreSQL. ``BackendUnavailableError`` if the
    database cannot be reached."""
    # no statement timeout: a replica may wait on the lock while another one migrates
    engine = make_engine(url, statement_timeout=None)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            await conn.run_sync(_upgrade, revision)
    except DOWN as exc:
        raise unavailable(engine.url, "migrate the schema", exc) from exc
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; None before the first upgrade."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    except DOWN as exc:
        raise unavailable(engine.url, "read the schema revision", exc) from exc
    finally:
        await engine.dispose()


async def new_revision(url: str, message: str, rev_id: str) -> None:
    """For developers: write ``versions/<rev_id>_<message>.py`` with the operations that take
    the database at ``url`` (upgraded to head) to ``lucy.store.schema``; review it by hand."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(
                lambda sync: command.revision(
                    alembic_config(sync), message, autogenerate=True, rev_id=rev_id
                )
            )
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
