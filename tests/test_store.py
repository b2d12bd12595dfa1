"""The database store (``lucy.store``): every scenario runs on SQLite (a temp file) and on
PostgreSQL (a throwaway database on the local server), and must come out the same."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, text

from lucy.capability_index.cache import InProcessCache
from lucy.capability_index.connections import CachedConnectionStore, LocalConnectionStore
from lucy.errors import BackendUnavailableError, ConfigurationError, InvalidRequestError
from lucy.eval.traces import queries_from_traces
from lucy.models import TraceRecord, TraceToolCall
from lucy.store import (
    Database,
    SyncConnections,
    UsageRecorder,
    async_url,
    current_revision,
    database_url,
    head_revision,
    upgrade,
)
from lucy.store.engine import make_engine
from lucy.store.migrate import MIGRATION_LOCK
from lucy.store.schema import Base
from tests.store_fixtures import (
    DEMO,
    on_db,
    postgres_answers,
    postgres_database,
    wipe,
)

BACKENDS = ["sqlite", "postgresql"]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per backend for the session; tests wipe the rows they need gone."""
    urls = {"sqlite": f"sqlite:///{tmp_path_factory.mktemp('store') / 'lucy.db'}"}
    asyncio.run(upgrade(urls["sqlite"]))
    yield urls


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    postgres_answers()
    with postgres_database() as url:
        asyncio.run(upgrade(url))
        yield url


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, migrated: dict[str, str]) -> str:
    """A migrated database with no rows, on each backend."""
    if request.param == "postgresql":
        found: str = request.getfixturevalue("postgres_url")
    else:
        found = migrated["sqlite"]
    wipe(found)
    return found


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    postgres_answers()
    with postgres_database("_empty") as found:
        yield found


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- URLs (pure)


@pytest.mark.parametrize(
    ("given", "driver_url"),
    [
        ("sqlite:///relative/lucy.db", "sqlite+aiosqlite:///relative/lucy.db"),
        ("sqlite:////var/lib/lucy/lucy.db", "sqlite+aiosqlite:////var/lib/lucy/lucy.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://lucy@db:5432/lucy", "postgresql+asyncpg://lucy@db:5432/lucy"),
        ("postgresql://lucy:s%40cret@db/lucy", "postgresql+asyncpg://lucy:s%40cret@db/lucy"),
        ("postgres://lucy@db:5433/lucy", "postgresql+asyncpg://lucy@db:5433/lucy"),
        ("postgresql+asyncpg://lucy@db/lucy", "postgresql+asyncpg://lucy@db/lucy"),
        ("postgresql://lucy@db/lucy?ssl=require", "postgresql+asyncpg://lucy@db/lucy?ssl=require"),
    ],
)
def test_urls_map_to_the_async_drivers(given: str, driver_url: str) -> None:
    assert async_url(given).render_as_string(hide_password=False) == driver_url


@pytest.mark.parametrize(
    "given",
    [
        "not a url",
        "",
        "mysql://lucy@db/lucy",
        "postgresql+psycopg2://lucy:hunter2@db/lucy",
        "sqlite+pysqlite:///x.db",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql://lucy:hunter2@db:notaport/lucy",
    ],
)
def test_bad_urls_name_the_setting_and_never_the_password(given: str) -> None:
    with pytest.raises(ConfigurationError, match="LUCY_DATABASE_URL") as caught:
        async_url(given)
    assert "hunter2" not in str(caught.value)


def test_default_url_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    assert database_url(None, tmp_path) == f"sqlite:///{tmp_path / 'lucy.db'}"
    assert database_url("  ", tmp_path) == f"sqlite:///{tmp_path / 'lucy.db'}"
    assert database_url("postgres://a@b/c", tmp_path) == "postgres://a@b/c"
    relative = database_url(None, Path(".lucy"))
    assert async_url(relative).database == str(Path(".lucy/lucy.db").absolute())


# ---------------------------------------------------------------- migrations


def _schema_diff(url: str, metadata: MetaData) -> list[Any]:
    async def run() -> list[Any]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                    )
                )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_upgrade_from_empty_to_head_and_again_is_a_no_op(empty_url: str) -> None:
    assert asyncio.run(current_revision(empty_url)) is None
    asyncio.run(upgrade(empty_url))
    assert asyncio.run(current_revision(empty_url)) == head_revision() == "0001"

    async def connect_one(db: Database) -> None:
        await db.connections.connect("T1", ["github"])

    on_db(empty_url, connect_one)
    asyncio.run(upgrade(empty_url))  # nothing to do: the data stays
    assert asyncio.run(current_revision(empty_url)) == "0001"

    async def read(db: Database) -> frozenset[str]:
        return await db.connections.toolkits("T1")

    assert on_db(empty_url, read) == {"github"}


def test_migrated_schema_matches_the_orm_metadata(url: str) -> None:
    assert _schema_diff(url, Base.metadata) == []
    # and the comparison would see a difference
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["traces"].append_column(Column("extra", Integer))
    assert [d[0] for d in _schema_diff(url, changed)] == ["add_column"]


def test_postgres_upgrades_wait_for_the_migration_lock_and_migrate_once() -> None:
    """Replicas starting at once on an empty database: all wait while another holds the
    migration lock, then one migrates and the others find the schema at head."""
    postgres_answers()
    with postgres_database("_lock") as url:

        async def scenario() -> None:
            holder = make_engine(url)
            try:
                async with holder.begin() as conn:
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK}
                    )
                    replicas = [asyncio.ensure_future(upgrade(url)) for _ in range(4)]
                    await asyncio.sleep(0.5)
                    assert not any(r.done() for r in replicas)
                await asyncio.gather(*replicas)  # lock released with the transaction
            finally:
                await holder.dispose()

        asyncio.run(scenario())
        assert asyncio.run(current_revision(url)) == "0001"
        assert _schema_diff(url, Base.metadata) == []


def test_upgrade_of_a_database_that_is_down_raises_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailableError) as caught:
        asyncio.run(upgrade(f"postgresql://root@127.0.0.1:{closed_port()}/lucy"))
    assert caught.value.backend == "database"


def test_tables_are_the_documented_ones(url: str) -> None:
    async def names() -> set[str]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    assert asyncio.run(names()) == {
        "alembic_version",
        "workspaces",
        "connections",
        "seen_events",
        "tool_usage",
        "job_runs",
        "traces",
    }


# ---------------------------------------------------------------- connections


def test_connections_follow_the_json_store_rules(url: str) -> None:
    async def scenario(db: Database) -> None:
        c = db.connections
        assert await c.toolkits("T1") == frozenset()
        assert await c.toolkits("demo") == DEMO  # no record yet: every demo toolkit
        assert await c.toolkits("demo", "U1") == DEMO

        await c.connect("T1", ["github", "slack"])
        await c.connect("T1", ["notion"], user="U1")
        assert await c.toolkits("T1") == {"github", "slack"}
        assert await c.toolkits("T1", "U1") == {"github", "slack", "notion"}
        assert await c.toolkits("T1", "U2") == {"github", "slack"}

        await c.disconnect("T1", ["github"], user="U1")  # not the user's own: no change
        assert await c.toolkits("T1", "U1") == {"github", "slack", "notion"}
        await c.disconnect("T1", ["github", "notion"])  # workspace-wide only
        assert await c.toolkits("T1", "U1") == {"slack", "notion"}
        await c.disconnect("T1", ["slack"])
        assert await c.toolkits("T1") == frozenset()

        await c.disconnect("demo", ["github"])  # the first change starts demo's record
        assert await c.toolkits("demo") == DEMO - {"github"}
        await c.disconnect("demo", sorted(DEMO))
        assert await c.toolkits("demo") == frozenset()  # a record: the demo rule is over

    on_db(url, scenario)


def test_connections_match_the_json_store_step_by_step(url: str, tmp_path: Path) -> None:
    local = LocalConnectionStore(tmp_path / "connections.json", demo_toolkits=DEMO)
    steps: list[tuple[str, str, list[str], str | None]] = [
        ("connect", "demo", ["jira"], "U1"),
        ("connect", "W2", ["gmail", "github"], None),
        ("disconnect", "W2", ["gmail"], None),
        ("connect", "W2", ["gmail"], "U9"),
        ("disconnect", "W3", ["x"], "U1"),
        ("connect", "demo", ["notion"], None),
        ("disconnect", "demo", ["jira"], "U1"),
    ]
    reads = [(w, u) for w in ("demo", "W2", "W3", "W4") for u in (None, "U1", "U9")]

    async def scenario(db: Database) -> None:
        for action, workspace, toolkits, user in steps:
            getattr(local, action)(workspace, toolkits, user)
            await getattr(db.connections, action)(workspace, toolkits, user)
            for w, u in reads:
                assert await db.connections.toolkits(w, u) == local.toolkits(w, u), (w, u)

    on_db(url, scenario)


def test_bad_ids_and_toolkit_names_are_refused(url: str) -> None:
    async def scenario(db: Database) -> None:
        with pytest.raises(InvalidRequestError) as caught:
            await db.connections.toolkits("bad id!")
        assert caught.value.field == "workspace_id"
        with pytest.raises(InvalidRequestError) as caught:
            await db.connections.connect("T1", ["github"], user="x" * 65)
        assert caught.value.field == "user_id"
        with pytest.raises(InvalidRequestError) as caught:
            await db.connections.connect("T1", ["t" * 129])
        assert caught.value.field == "toolkits"
        assert await db.connections.toolkits("T1") == frozenset()

    on_db(url, scenario)


def test_concurrent_connects_are_all_kept(url: str) -> None:
    names = [f"kit{i}" for i in range(12)]

    async def scenario(db: Database) -> frozenset[str]:
        await asyncio.gather(*(db.connections.connect("demo", [n]) for n in names))
        return await db.connections.toolkits("demo")

    assert on_db(url, scenario) == DEMO | set(names)


def test_import_json_loads_each_workspace_once(url: str, tmp_path: Path) -> None:
    path = tmp_path / "connections.json"
    local = LocalConnectionStore(path, demo_toolkits=DEMO)
    local.connect("T1", ["github", "linear"])
    local.connect("T1", ["notion"], user="U1")
    local.disconnect("demo", ["slack"])
    local.connect("T2", [])

    async def scenario(db: Database) -> None:
        c = db.connections
        await c.connect("T3", ["jira"])  # already in the database: untouched by the import
        assert await c.import_json(path) == 3
        for w, u in [("T1", None), ("T1", "U1"), ("demo", None), ("T2", None)]:
            assert await c.toolkits(w, u) == local.toolkits(w, u)
        assert await c.toolkits("T3") == {"jira"}

        await c.disconnect("T1", ["github"])
        assert await c.import_json(path) == 0  # at every start: nothing comes back
        assert await c.toolkits("T1") == {"linear"}
        assert await c.import_json(tmp_path / "missing.json") == 0

    on_db(url, scenario)

    for bad in ["[1, 2]", "{", '{"T1": {"toolkits": "github"}}', '{"bad id!": {}}']:
        path.write_text(bad)
        with pytest.raises(ConfigurationError, match=str(path)):
            on_db(url, lambda db: db.connections.import_json(path))


# ---------------------------------------------------------------- events


def test_mark_seen_is_true_exactly_once_under_concurrency(url: str) -> None:
    async def scenario(db: Database) -> tuple[list[bool], list[bool], bool]:
        same = await asyncio.gather(*(db.events.mark_seen("evt-1", "auth") for _ in range(20)))
        distinct = await asyncio.gather(
            *(db.events.mark_seen(f"evt-{i}", "sync") for i in range(2, 12))
        )
        return list(same), list(distinct), await db.events.mark_seen("evt-1", "sync")

    same, distinct, again = on_db(url, scenario)
    assert sorted(same) == [False] * 19 + [True]
    assert distinct == [True] * 10
    assert again is False


def test_prune_events_forgets_old_ids(url: str) -> None:
    now = datetime.now(UTC)

    async def scenario(db: Database) -> tuple[int, bool, bool]:
        await db.events.mark_seen("old", "auth", at=now - timedelta(days=3))
        await db.events.mark_seen("new", "auth", at=now)
        pruned = await db.events.prune(now - timedelta(days=1))
        return (
            pruned,
            await db.events.mark_seen("old", "auth"),
            await db.events.mark_seen("new", "auth"),
        )

    assert on_db(url, scenario) == (1, True, False)


# ---------------------------------------------------------------- usage


def test_usage_counts_every_call_and_keeps_the_latest_time(url: str) -> None:
    t0 = datetime(2026, 1, 1, 12, tzinfo=UTC)

    async def scenario(db: Database) -> None:
        u = db.usage
        await u.record_call("GITHUB_CREATE_ISSUE", True, at=t0)
        await u.record_call("GITHUB_CREATE_ISSUE", False, at=t0 + timedelta(hours=2))
        await u.record_call("GITHUB_CREATE_ISSUE", True, at=t0 + timedelta(hours=1))  # late
        await asyncio.gather(*(u.record_call("SLACK_SEND", i % 4 != 0, at=t0) for i in range(20)))
        stats = await u.stats()
        gh = stats["GITHUB_CREATE_ISSUE"]
        assert (gh.calls, gh.successes, gh.failures) == (3, 2, 1)
        assert gh.last_used == t0 + timedelta(hours=2)
        assert gh.last_used.tzinfo is not None
        slack = stats["SLACK_SEND"]
        assert (slack.calls, slack.successes, slack.failures) == (20, 15, 5)
        assert slack.success_rate == 0.75
        assert set(stats) == {"GITHUB_CREATE_ISSUE", "SLACK_SEND"}

    on_db(url, scenario)


def test_each_executed_call_of_a_trace_is_counted(url: str) -> None:
    record = TraceRecord(
        ts="2026-01-01T00:00:00+00:00",
        request_id="r1",
        workspace_id="T1",
        query="file a bug",
        tool_calls=[
            TraceToolCall(
                slug="LINEAR_CREATE_ISSUE", ok=False, error_kind="provider_error", stage=1
            ),
            TraceToolCall(slug="LINEAR_CREATE_ISSUE", ok=True, stage=1),
            TraceToolCall(slug="SLACK_SEND_MESSAGE", ok=True, stage=2),
        ],
        final_text_ok=True,
    )

    async def scenario(db: Database) -> None:
        await UsageRecorder(db.usage).append(record)
        stats = await db.usage.stats()
        assert (stats["LINEAR_CREATE_ISSUE"].calls, stats["LINEAR_CREATE_ISSUE"].successes) == (
            2,
            1,
        )
        assert stats["SLACK_SEND_MESSAGE"].successes == 1

    on_db(url, scenario)


# ---------------------------------------------------------------- job runs


def test_job_runs_record_start_end_counts_and_errors(url: str) -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)

    async def scenario(db: Database) -> None:
        j = db.jobs
        first = await j.start_run("schema_refresh", 7, at=t0)
        await j.finish_run(first, True, {"tools": 120, "re_embedded": 3}, at=t0 + timedelta(1))
        second = await j.start_run("schema_refresh", 8, at=t0 + timedelta(2))
        sweep = await j.start_run("connection_sweep", 8, at=t0)
        await j.finish_run(sweep, False, {}, "composio: 503", at=t0 + timedelta(seconds=5))
        with pytest.raises(InvalidRequestError):
            await j.finish_run(sweep, True)  # already finished
        with pytest.raises(InvalidRequestError):
            await j.finish_run(10_000, True)

        runs = await j.last_runs()
        assert set(runs) == {"schema_refresh", "connection_sweep"}
        refresh = runs["schema_refresh"]
        assert (refresh.id, refresh.fencing_token, refresh.running) == (second, 8, True)
        assert refresh.started_at == t0 + timedelta(2)
        failed = runs["connection_sweep"]
        assert (failed.ok, failed.counts, failed.error) == (False, {}, "composio: 503")
        assert failed.finished_at == t0 + timedelta(seconds=5)

        assert await j.last_success("schema_refresh") == t0  # the running one does not count
        assert await j.last_success("connection_sweep") is None  # it failed
        await j.finish_run(second, True, {"tools": 121})
        assert (await j.last_runs())["schema_refresh"].counts == {"tools": 121}
        assert await j.last_success("schema_refresh") == t0 + timedelta(2)

    on_db(url, scenario)


# ---------------------------------------------------------------- traces


def _trace(n: int, ts: str, *, slug: str = "GITHUB_CREATE_ISSUE", ok: bool = True) -> TraceRecord:
    return TraceRecord(
        ts=ts,
        request_id=f"req-{n}",
        workspace_id="T1",
        user_id="U1" if n % 2 else None,
        query=f"query number {n}",
        index_version="v1",
        tool_calls=[TraceToolCall(slug=slug, provider="demo", ok=ok, stage=1)],
        final_text_ok=True,
    )


def test_traces_round_trip_prune_and_export(url: str, tmp_path: Path) -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    records = [
        _trace(1, (now - timedelta(days=40)).isoformat()),
        _trace(2, (now - timedelta(days=2)).replace(tzinfo=None).isoformat()),  # naive = UTC
        _trace(3, "2026-05-30T16:00:00+02:00", slug="LINEAR_CREATE_ISSUE"),  # 14:00 UTC
        _trace(4, (now - timedelta(days=1)).isoformat(), ok=False),
        _trace(5, (now - timedelta(days=1)).isoformat(), slug="SLACK_SEND"),  # same ts as 4
    ]
    export = tmp_path / "out" / "traces.jsonl"

    async def scenario(db: Database) -> None:
        t = db.traces
        for record in reversed(records):  # stored in any order, read oldest first
            await t.append(record)
        order = [r.request_id for r in await t.read()]
        assert order[:3] == ["req-1", "req-2", "req-3"]
        assert set(order[3:]) == {"req-4", "req-5"}
        assert {r.request_id: r for r in await t.read()} == {r.request_id: r for r in records}
        since = [r.request_id for r in await t.read(since=now - timedelta(days=1))]
        assert set(since) == {"req-4", "req-5"}
        assert [r.request_id for r in await t.read(limit=2)] == ["req-1", "req-2"]

        assert await t.export_jsonl(export, page_size=2) == 5  # pages split the tied pair
        lines = export.read_text().splitlines()
        assert [TraceRecord.model_validate_json(line) for line in lines] == await t.read()

        assert await t.prune(30, now=now) == 1
        assert [r.request_id for r in await t.read()][:1] == ["req-2"]
        assert await t.export_jsonl(export) == 4

    on_db(url, scenario)

    known = {"GITHUB_CREATE_ISSUE", "LINEAR_CREATE_ISSUE"}
    rows, problems = queries_from_traces(export, known)
    assert [r["id"] for r in rows] == ["trace-req-2", "trace-req-3"]
    assert rows[1]["relevant"] == ["LINEAR_CREATE_ISSUE"]
    # req-4's call failed; req-5's tool is not known
    assert {p.split(": ")[1] for p in problems} == {"request req-4", "request req-5"}


# ---------------------------------------------------------------- database down


@pytest.fixture(params=["postgres refused", "postgres silent", "sqlite unopenable"])
def down_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres refused":
        yield f"postgresql://root@127.0.0.1:{closed_port()}/lucy"
    elif request.param == "postgres silent":
        # accepts TCP connections and never answers: only the connect timeout ends the wait
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(16)
            yield f"postgresql://root@127.0.0.1:{silent.getsockname()[1]}/lucy"
    else:
        (tmp_path / "a-folder").mkdir()
        yield f"sqlite:///{tmp_path / 'a-folder'}"


def test_a_database_that_is_down_fails_every_call_loudly(down_url: str, tmp_path: Path) -> None:
    calls = {
        "connect": lambda db: db.connections.connect("T1", ["github"]),
        "disconnect": lambda db: db.connections.disconnect("T1", ["github"]),
        "toolkits": lambda db: db.connections.toolkits("demo"),
        "mark_seen": lambda db: db.events.mark_seen("e", "auth"),
        "record_call": lambda db: db.usage.record_call("X", True),
        "start_run": lambda db: db.jobs.start_run("refresh", 1),
        "append": lambda db: db.traces.append(_trace(1, datetime.now(UTC).isoformat())),
        "export": lambda db: db.traces.export_jsonl(tmp_path / "t.jsonl"),
    }

    async def scenario(db: Database) -> dict[str, BaseException | None]:
        outcomes: dict[str, BaseException | None] = {}
        for name, call in calls.items():
            try:
                await call(db)
                outcomes[name] = None
            except BaseException as exc:
                outcomes[name] = exc
        return outcomes

    outcomes = on_db(down_url, scenario, connect_timeout=0.25)
    for name, exc in outcomes.items():
        assert isinstance(exc, BackendUnavailableError), (name, exc)
        assert exc.backend == "database"
        assert "the database at" in str(exc) and "is unavailable" in str(exc)
    assert not (tmp_path / "t.jsonl").exists()
    if down_url.startswith("postgresql"):  # the message names host and port
        assert down_url.split("@")[-1].split("/")[0] in str(outcomes["connect"])


# ---------------------------------------------------------------- the blocking adapter


def test_sync_connections_from_many_threads(url: str) -> None:
    store = SyncConnections(url, demo_toolkits=DEMO)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(i: int) -> None:
        try:
            start.wait()
            store.connect("T1", [f"kit{i}"])
            store.connect("T1", [f"own{i}"], user=f"U{i}")
            assert f"kit{i}" in store.toolkits("T1")
            assert f"own{i}" in store.toolkits("T1", f"U{i}")
            store.disconnect("T1", [f"own{i}"], user=f"U{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert store.toolkits("T1") == {f"kit{i}" for i in range(8)}
        assert store.toolkits("T1", "U3") == {f"kit{i}" for i in range(8)}
        assert store.toolkits("demo") == DEMO
        # what the capability index will use: the cached store in front of it
        cached = CachedConnectionStore(store, InProcessCache(), ttl=30)
        cached.connect("T9", iter(["github"]))
        assert cached.toolkits("T9") == {"github"}
    finally:
        store.close()
    store.close()  # twice is fine
    with pytest.raises(RuntimeError):
        store.toolkits("T1")


def test_sync_connections_raise_when_the_database_is_down() -> None:
    store = SyncConnections(f"postgresql://root@127.0.0.1:{closed_port()}/lucy")
    try:
        with pytest.raises(BackendUnavailableError):
            store.toolkits("T1")
        with pytest.raises(BackendUnavailableError):
            store.connect("T1", ["github"])
    finally:
        store.close()


def test_sync_connections_refuse_a_bad_url_without_leaking_a_thread() -> None:
    before = threading.active_count()
    with pytest.raises(ConfigurationError):
        SyncConnections("mysql://x@y/z")
    assert threading.active_count() == before


def test_json_export_is_what_eval_reads(url: str, tmp_path: Path) -> None:
    """The export is byte-for-byte the TraceLog format: one model_dump_json line a record."""
    record = _trace(7, datetime(2026, 1, 2, tzinfo=UTC).isoformat())

    async def scenario(db: Database) -> None:
        await db.traces.append(record)
        await db.traces.export_jsonl(tmp_path / "x.jsonl")

    on_db(url, scenario)
    assert (tmp_path / "x.jsonl").read_text() == record.model_dump_json() + "\n"
    assert json.loads((tmp_path / "x.jsonl").read_text())["request_id"] == "req-7"


def test_public_surface() -> None:
    import lucy.store

    assert set(lucy.store.__all__) == {
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
    }
