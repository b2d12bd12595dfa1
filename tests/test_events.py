"""Signed, idempotent auth and sync events, and invalidation that reaches every replica through
Redis pub/sub (two app instances sharing the Redis on 127.0.0.1:6379)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lucy.api import create_app
from lucy.api.signatures import SIGNATURE_HEADER, sign, verify
from lucy.capability_index.catalog import Catalog
from lucy.capability_index.service import CapabilityIndex
from lucy.errors import AuthenticationError
from lucy.models import SourceListing
from tests.conftest import make_settings

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET = "s3cret-for-tests"
NOW = 1_780_000_000


# --- signatures (pure) ---------------------------------------------------------------------


def test_a_signature_verifies_within_the_window_only() -> None:
    body = b'{"event_id": "e1"}'
    header = sign(b"k", body, NOW)
    verify(b"k", header, body, now=NOW + 299)
    verify(b"k", header, body, now=NOW - 299)
    with pytest.raises(AuthenticationError, match="away from now"):
        verify(b"k", header, body, now=NOW + 301)


@pytest.mark.parametrize(
    ("secret", "body", "header", "reason"),
    [
        (b"other", b"{}", sign(b"k", b"{}", NOW), "does not match"),
        (b"k", b'{"x": 1}', sign(b"k", b"{}", NOW), "does not match"),
        (b"k", b"{}", None, "missing"),
        (b"k", b"{}", "v1=abc", "no valid t="),
        (b"k", b"{}", f"t={NOW}", "does not match"),
    ],
)
def test_a_bad_signature_says_why(secret, body, header, reason) -> None:
    with pytest.raises(AuthenticationError, match=reason):
        verify(secret, header, body, now=NOW)


def test_a_rotated_secret_can_sign_alongside_the_old_one() -> None:
    body = b"{}"
    old, new = sign(b"old", body, NOW), sign(b"new", body, NOW)
    both = f"{old},v1={new.split('v1=')[1]}"
    verify(b"new", both, body, now=NOW)
    verify(b"old", both, body, now=NOW)


# --- the routes -------------------------------------------------------------------------------


class SharedProvider:
    """A provider's connection state that every replica reads (as Composio's would be)."""

    name = "remote"

    def __init__(self) -> None:
        self.connected: dict[str, frozenset[str]] = {}
        self.lock = threading.Lock()

    def connected_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]:
        return self.own_toolkits(workspace_id, None)

    def own_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]:
        with self.lock:
            return frozenset() if user_id else self.connected.get(workspace_id, frozenset())

    def connect_link(self, toolkit: str, workspace_id: str, user_id: str | None) -> str | None:
        return None


def remote_listing(catalog: Catalog) -> SourceListing:
    return SourceListing(
        provider="remote",
        toolkits=tuple(catalog.toolkits.values()),
        tools=tuple(t.model_copy(update={"provider": "remote"}) for t in catalog.tools),
    )


def replica(
    path: Path, embedder, provider: SharedProvider, listing: SourceListing, **settings: object
) -> CapabilityIndex:
    index = CapabilityIndex(
        make_settings(path, demo_catalog=False, events_secret=SECRET, **settings),
        embedder=embedder,
        readers=[provider],
    )
    index.build(listings=[listing])
    return index


def post(client: TestClient, path: str, event: dict[str, object], secret: str = SECRET):
    body = json.dumps(event).encode()
    headers = {SIGNATURE_HEADER: sign(secret.encode(), body, int(time.time()))}
    return client.post(path, content=body, headers={**headers, "content-type": "application/json"})


def github_tools(client: TestClient, workspace: str) -> list[str]:
    found = client.post(
        "/v1/retrieve", json={"query": "list open issues on github", "workspace_id": workspace}
    ).json()
    return [c["slug"] for c in found["candidates"] if c["toolkit"] == "github"]


@pytest.fixture(scope="module")
def listing(small_catalog: Catalog) -> SourceListing:
    return remote_listing(small_catalog)


@pytest.fixture
def one(tmp_path, embedder, listing) -> Iterator[tuple[TestClient, SharedProvider]]:
    provider = SharedProvider()
    index = replica(tmp_path, embedder, provider, listing)
    with TestClient(create_app(index.settings, index=index)) as client:
        yield client, provider
    index.close()


def test_events_need_a_secret(tmp_path, demo_index) -> None:
    with TestClient(create_app(demo_index.settings, index=demo_index)) as client:
        r = post(client, "/v1/events/sync", {"event_id": "e", "toolkit": "github"})
    assert r.status_code == 503 and "LUCY_EVENTS_SECRET" in r.json()["error"]["message"]


def test_an_unsigned_or_wrongly_signed_event_is_refused(one) -> None:
    client, _ = one
    event = {"event_id": "e1", "toolkit": "github"}
    assert client.post("/v1/events/sync", json=event).status_code == 401
    wrong = post(client, "/v1/events/sync", event, secret="not-it")
    assert wrong.status_code == 401 and "does not match" in wrong.json()["error"]["message"]


def test_a_malformed_event_is_a_422_naming_the_field(one) -> None:
    client, _ = one
    r = post(client, "/v1/events/auth", {"event_id": "e1", "workspace_id": "W", "toolkit": "x"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "change"


def test_an_auth_event_makes_the_change_visible_and_is_applied_once(one) -> None:
    client, provider = one
    workspace = f"W{uuid.uuid4().hex[:8]}"
    provider.connected[workspace] = frozenset({"github"})
    assert github_tools(client, workspace)
    provider.connected[workspace] = frozenset()
    assert github_tools(client, workspace)  # still cached: nobody said anything
    event = {"event_id": "e-auth-1", "workspace_id": workspace, "toolkit": "github"}
    first = post(client, "/v1/events/auth", {**event, "change": "removed"})
    assert first.status_code == 200, first.text
    assert first.json() == {
        "event_id": "e-auth-1",
        "applied": True,
        "invalidated": [workspace],
        "refresh_queued": [],
    }
    assert github_tools(client, workspace) == []
    again = post(client, "/v1/events/auth", {**event, "change": "removed"})
    assert again.json()["applied"] is False


def test_a_sync_event_queues_a_refresh_of_its_toolkit(one) -> None:
    client, _ = one
    r = post(client, "/v1/events/sync", {"event_id": "e-sync-1", "toolkit": "linear"})
    assert r.json()["refresh_queued"] == ["linear"]
    assert client.app.state.pending_refreshes.peek() == {"linear"}  # type: ignore[attr-defined]


# --- two replicas ------------------------------------------------------------------------------


def test_an_auth_event_on_one_replica_changes_retrieval_on_the_other(
    tmp_path, embedder, listing
) -> None:
    provider = SharedProvider()
    workspace = f"W{uuid.uuid4().hex[:8]}"
    provider.connected[workspace] = frozenset({"github"})
    a = replica(tmp_path / "a", embedder, provider, listing, redis_url=REDIS_URL)
    b = replica(tmp_path / "b", embedder, provider, listing, redis_url=REDIS_URL)
    try:
        assert a.bus is not None and b.bus is not None
        assert a.bus.wait_subscribed(5) and b.bus.wait_subscribed(5)
        with (
            TestClient(create_app(a.settings, index=a)) as on_a,
            TestClient(create_app(b.settings, index=b)) as on_b,
        ):
            assert github_tools(on_b, workspace)  # B has read and cached the state
            provider.connected[workspace] = frozenset()
            assert github_tools(on_b, workspace)  # still cached on B
            event = {"event_id": uuid.uuid4().hex, "workspace_id": workspace}
            sent = post(
                on_a, "/v1/events/auth", {**event, "toolkit": "github", "change": "expired"}
            )
            assert sent.json()["applied"]
            deadline = time.monotonic() + 1.0
            while github_tools(on_b, workspace) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert github_tools(on_b, workspace) == []  # within one second
    finally:
        a.close()
        b.close()
