"""Alembic's environment for Lucy's schema. Lucy runs migrations in code
(``lucy.store.migrate.upgrade``, or ``lucy db upgrade``), which hands this script a connection
inside the transaction it holds (with, on PostgreSQL, the migration advisory lock)."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from lucy.store.schema import Base, UTCDateTime


def render_item(kind: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    """Generated migrations spell column types with ``sa.`` only, never Lucy's own classes."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: later migrations copy and move tables instead
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError(
        "Lucy's migrations run through lucy.store.migrate (`lucy db upgrade`), "
        "not the alembic command line"
    )
run_migrations(_connection)
