"""The database behind the service: the index keeps connections in it (and imports an older
connections.json once), a store outage serves the last value read (never "everything"), and
two replicas sharing one PostgreSQL database apply an event id once between them."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient

from lucy.api import create_app
from lucy.capability_index.cache import InProcessCache
from lucy.capability_index.catalog import Catalog
from lucy.capability_index.connections import CachedConnectionStore
from lucy.capability_index.service import CapabilityIndex
from lucy.errors import BackendUnavailableError
from tests.conftest import make_settings
from tests.store_fixtures import postgres_answers, postgres_database
from tests.test_events import post


def test_connections_live_in_the_database_and_json_is_imported_once(
    tmp_path, embedder, small_catalog: Catalog
) -> None:
    (tmp_path / "connections.json").write_text(json.dumps({"T1": {"toolkits": ["github"]}}))
    settings = make_settings(tmp_path)
    first = CapabilityIndex(settings, embedder=embedder, catalog=small_catalog)
    assert first.connected("T1") == ["github"]  # imported
    first.disconnect("T1", ["github"])
    first.connect("T1", ["slack"])
    first.close()
    assert (tmp_path / "lucy.db").exists()
    again = CapabilityIndex(settings, embedder=embedder, catalog=small_catalog)
    assert again.connected("T1") == ["slack"]  # not imported a second time
    again.close()


class Flaky:
    """A connection store that answers once, then is down."""

    def __init__(self) -> None:
        self.down = False

    def own_toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        if self.down:
            raise BackendUnavailableError("database is down", backend="database")
        return frozenset({"github"}) if user is None else frozenset()

    def toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        return self.own_toolkits(workspace)

    def connect(self, workspace, toolkits, user=None) -> None: ...

    def disconnect(self, workspace, toolkits, user=None) -> None: ...


def test_a_store_outage_serves_the_last_value_read_never_everything() -> None:
    inner = Flaky()
    store = CachedConnectionStore(inner, InProcessCache(ttl=30), ttl=30)
    assert store.toolkits("W1") == {"github"}
    inner.down = True
    store.invalidate("W1")  # the cached entry is gone, the store is down
    assert store.toolkits("W1") == {"github"}  # the last value read
    with pytest.raises(BackendUnavailableError):
        store.toolkits("W2")  # nothing read before: the error stands (a 503)


def test_two_replicas_on_one_database_apply_an_event_once(
    tmp_path, embedder, small_catalog
) -> None:
    postgres_answers()
    with postgres_database("_events") as url:
        replicas = []
        for name in ("a", "b"):
            settings = make_settings(tmp_path / name, database_url=url, events_secret="s")
            replicas.append(CapabilityIndex(settings, embedder=embedder, catalog=small_catalog))
        try:
            event = {"event_id": uuid.uuid4().hex, "toolkit": "linear"}
            answers = []
            for index in replicas:
                with TestClient(create_app(index.settings, index=index)) as client:
                    answers.append(post(client, "/v1/events/sync", event, secret="s").json())
            assert [a["applied"] for a in answers] == [True, False]
            replicas[0].connect("T1", ["github"])
            assert replicas[1].connected("T1") == ["github"]  # one store, shared
        finally:
            for index in replicas:
                index.close()
