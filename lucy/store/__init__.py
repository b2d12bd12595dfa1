"""Lucy's durable state: SQLAlchemy 2 (async) over SQLite (embedded default, a file under
``LUCY_DATA_DIR``) or PostgreSQL (production), with Alembic migrations.

    url = database_url(settings.database_url, settings.data_dir)
    await upgrade(url)                      # at start, and `lucy db upgrade`
    db = await Database.open(url, demo_toolkits=demo)
    ...                                     # db.connections / events / usage / jobs / traces
    await db.close()

``SyncConnections`` is the blocking ``ConnectionStore`` for the capability index.
"""

from lucy.store.connections import ConnectionRecords
from lucy.store.database import Database
from lucy.store.events import SeenEvents
from lucy.store.ids import DEMO_WORKSPACE, check_id
from lucy.store.jobs import JobRunRecord, JobRuns
from lucy.store.migrate import current_revision, head_revision, upgrade
from lucy.store.sync import SyncConnections
from lucy.store.traces import TraceRecords
from lucy.store.urls import async_url, database_url
from lucy.store.usage import UsageCounts, UsageRecorder, UsageStats

__all__ = [
    "DEMO_WORKSPACE",
    "ConnectionRecords",
    "Database",
    "JobRunRecord",
    "JobRuns",
    "SeenEvents",
    "SyncConnections",
    "TraceRecords",
    "UsageCounts",
    "UsageRecorder",
    "UsageStats",
    "async_url",
    "check_id",
    "current_revision",
    "database_url",
    "head_revision",
    "upgrade",
]
