"""Initial schema: connections, processed events, tool usage, job runs, trace records.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("workspace_id", sa.String(64), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_workspaces")),
    )
    op.create_table(
        "connections",
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("toolkit", sa.String(128), nullable=False),
        _time("connected_at"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.workspace_id"],
            name=op.f("fk_connections_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "user_id", "toolkit", name=op.f("pk_connections")),
    )
    op.create_table(
        "seen_events",
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        _time("seen_at"),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_seen_events")),
    )
    op.create_index(op.f("ix_seen_events_seen_at"), "seen_events", ["seen_at"])
    op.create_table(
        "tool_usage",
        sa.Column("slug", sa.String(255), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("successes", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.BigInteger(), nullable=False),
        _time("last_used"),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_tool_usage")),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(128), nullable=False),
        sa.Column("fencing_token", sa.BigInteger(), nullable=False),
        _time("started_at"),
        _time("finished_at", nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index(op.f("ix_job_runs_job_id"), "job_runs", ["job", "id"])
    op.create_table(
        "traces",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _time("ts"),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traces")),
    )
    op.create_index(op.f("ix_traces_ts"), "traces", ["ts"])
    op.create_index(op.f("ix_traces_request_id"), "traces", ["request_id"])


def downgrade() -> None:
    for table in ("traces", "job_runs", "tool_usage", "seen_events", "connections", "workspaces"):
        op.drop_table(table)
