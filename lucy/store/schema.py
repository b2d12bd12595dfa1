"""The tables, as SQLAlchemy 2 typed declarative classes. The migrations under ``migrations/``
must produce exactly this schema (a test compares them on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# the user id of a workspace-wide connection: never a valid user id (ids start with a letter or
# digit), and a primary key column cannot hold NULL
WORKSPACE_WIDE = ""


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out, on every backend (SQLite keeps no
    time zone, so UTC is stored there without one)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # named constraints, so that later migrations can alter them on every backend
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Workspace(Base):
    """A workspace Lucy has a connection record for (the ``demo`` rule needs to know)."""

    __tablename__ = "workspaces"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime]


class Connection(Base):
    """One connected toolkit: workspace-wide (``user_id == WORKSPACE_WIDE``) or a user's own."""

    __tablename__ = "connections"

    workspace_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("workspaces.workspace_id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    toolkit: Mapped[str] = mapped_column(String(128), primary_key=True)
    connected_at: Mapped[datetime]


class SeenEvent(Base):
    """An event id already processed (auth and sync events are delivered at least once)."""

    __tablename__ = "seen_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(index=True)


class ToolUsage(Base):
    """Per-tool call counters and the last time the tool was called."""

    __tablename__ = "tool_usage"

    slug: Mapped[str] = mapped_column(String(255), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger)
    successes: Mapped[int] = mapped_column(BigInteger)
    failures: Mapped[int] = mapped_column(BigInteger)
    last_used: Mapped[datetime]


class JobRunRow(Base):
    """One run of a scheduled job: open while ``finished_at`` is NULL."""

    __tablename__ = "job_runs"
    __table_args__ = (Index(None, "job", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(128))
    fencing_token: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    ok: Mapped[bool | None]
    counts: Mapped[dict[str, int] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class TraceRow(Base):
    """One /v1/respond trace record; ``record`` is the whole ``TraceRecord`` as JSON, so fields
    added by later planners survive; ``ts`` is a column for retention and paging."""

    __tablename__ = "traces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    request_id: Mapped[str] = mapped_column(String(255), index=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
