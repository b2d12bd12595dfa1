"""The HTTP API through create_app with test settings, over the real ASGI stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lucy.api import create_app
from lucy.capability_index.service import CapabilityIndex

from .conftest import make_settings


@pytest.fixture(scope="module")
def client(demo_index: CapabilityIndex) -> Iterator[TestClient]:
    with TestClient(create_app(demo_index.settings, index=demo_index)) as c:
        yield c


def retrieve(client: TestClient, **body):
    return client.post("/v1/retrieve", json={"workspace_id": "demo", **body})


def test_linear_bug_ranks_linear_create_issue_first(client: TestClient) -> None:
    r = retrieve(client, query="open a bug in linear for the login crash")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["candidates"][0]["slug"] == "LINEAR_CREATE_ISSUE"
    assert body["missing_connections"] == []
    first = body["candidates"][0]
    assert set(first) >= {"slug", "toolkit", "name", "description", "parameters", "score", "tags"}
    assert first["parameters"]["type"] == "object"
    assert body["index_version"].startswith("lucy_tools_v")
    assert body["timings"]["total_ms"] > 0


def test_unconnected_linear_is_reported_missing(client: TestClient, demo_index) -> None:
    demo_index.connect("api-no-linear", ["github", "slack", "jira"])
    r = retrieve(
        client, query="open a bug in linear for the login crash", workspace_id="api-no-linear"
    )
    body = r.json()
    assert next(m["toolkit"] for m in body["missing_connections"]) == "linear"
    assert "LINEAR_CREATE_ISSUE" in body["missing_connections"][0]["example_tools"]
    assert all(c["toolkit"] in {"github", "slack", "jira"} for c in body["candidates"])


def test_unknown_workspace_has_nothing_connected(client: TestClient) -> None:
    body = retrieve(client, query="send a slack message", workspace_id="T0NEWTEAM").json()
    assert body["candidates"] == []
    assert body["missing_connections"][0]["toolkit"] == "slack"


def test_multi_intent_request_covers_each_part(client: TestClient) -> None:
    body = retrieve(client, query="file a bug in Linear and ping #eng", k=4).json()
    assert body["intents"] == ["file a bug in Linear", "ping #eng"]
    slugs = [c["slug"] for c in body["candidates"]]
    assert "LINEAR_CREATE_ISSUE" in slugs
    assert "SLACK_SEND_MESSAGE" in slugs


def test_toolkits_restriction(client: TestClient) -> None:
    body = retrieve(client, query="create an issue", toolkits=["github"]).json()
    assert {c["toolkit"] for c in body["candidates"]} == {"github"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": "   "}, "query"),
        ({"query": "x" * 10_000}, "query"),
        ({"query": "ok", "k": 0}, "k"),
        ({"query": "ok", "k": 51}, "k"),
        ({"query": "ok", "k": "five"}, "k"),
        ({"query": "ok", "workspace_id": "bad workspace!"}, "workspace_id"),
        ({"query": "ok", "user_id": "../x"}, "user_id"),
        ({"query": "ok", "toolkits": ["nosuchkit"]}, "toolkits"),
        ({"query": "ok", "colour": "red"}, "colour"),
        ({"workspace_id": "demo"}, "query"),
    ],
)
def test_bad_input_is_a_clear_4xx(client: TestClient, body: dict, field: str) -> None:
    r = client.post("/v1/retrieve", json={"workspace_id": "demo", **body})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == field
    assert error["message"]


def test_not_json_is_4xx(client: TestClient) -> None:
    r = client.post("/v1/retrieve", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_get_tool(client: TestClient) -> None:
    r = client.get("/v1/tools/LINEAR_CREATE_ISSUE")
    assert r.status_code == 200
    assert r.json()["toolkit"] == "linear"
    assert r.json()["tags"]["verbs"] == ["create"]
    missing = client.get("/v1/tools/NOPE_NOTHING")
    assert missing.status_code == 404
    assert "NOPE_NOTHING" in missing.json()["error"]["message"]


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "index_version": None}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["index_version"].startswith("lucy_tools_v")


def test_connections_endpoints(client: TestClient) -> None:
    r = client.post("/v1/workspaces/api-conn/connections", json={"toolkits": ["github", "slack"]})
    assert r.json()["toolkits"] == ["github", "slack"]
    r = client.delete("/v1/workspaces/api-conn/connections/slack")
    assert r.json()["toolkits"] == ["github"]
    r = client.post(
        "/v1/workspaces/api-conn/connections", json={"toolkits": ["notion"], "user_id": "U1"}
    )
    assert r.json()["toolkits"] == ["github", "notion"]
    assert client.get("/v1/workspaces/api-conn/connections").json()["toolkits"] == ["github"]
    bad = client.post("/v1/workspaces/api-conn/connections", json={"toolkits": ["nope"]})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "toolkits"
    empty = client.post("/v1/workspaces/api-conn/connections", json={"toolkits": []})
    assert empty.status_code == 422


def test_openapi_documents_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {
        "/v1/retrieve",
        "/v1/tools/{slug}",
        "/healthz",
        "/readyz",
        "/v1/workspaces/{workspace_id}/connections",
    } <= set(spec["paths"])
    assert "422" in spec["paths"]["/v1/retrieve"]["post"]["responses"]


def test_not_ready_before_first_build(tmp_path, embedder) -> None:
    index = CapabilityIndex(make_settings(tmp_path), embedder=embedder)
    with TestClient(create_app(index.settings, index=index)) as c:
        assert c.get("/readyz").status_code == 503
        r = c.post("/v1/retrieve", json={"query": "hi there", "workspace_id": "demo"})
        assert r.status_code == 503
        assert "lucy index build" in r.json()["error"]["message"]
    index.close()
