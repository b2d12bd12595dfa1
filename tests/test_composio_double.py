"""The Composio API double: every answer validates against the SDK's own response models, its
paging and filters behave, and its fault switches do what they say."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import composio_client
import httpx
import pytest
from composio_client.types import (
    AuthConfigListResponse,
    ConnectedAccountListResponse,
    LinkCreateResponse,
    ToolExecuteResponse,
    ToolkitListResponse,
    ToolListResponse,
    ToolRetrieveResponse,
)

from lucy.testing.composio_double import (
    ACCOUNT_STATUSES,
    CONNECTED_ACCOUNTS_LIST,
    DEFAULT_VERSION,
    LINK_CREATE,
    TOOLKITS_LIST,
    TOOLS_EXECUTE,
    TOOLS_LIST,
    VALIDATION_MESSAGE,
    ComposioDouble,
    ExecuteCall,
    ToolFailed,
)

API = "/api/v3.1"


@pytest.fixture
def double() -> Iterator[ComposioDouble]:
    with ComposioDouble(page_size=4) as running:
        yield running


@pytest.fixture
def http(double: ComposioDouble) -> Iterator[httpx.Client]:
    headers = {"x-api-key": double.api_key}
    with httpx.Client(base_url=double.base_url, headers=headers, timeout=5.0) as client:
        yield client


def pages(http: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a listing, each returned as its raw JSON body."""
    bodies: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = http.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        bodies.append(body)
        cursor = body["next_cursor"]
        if cursor is None:
            return bodies


def execute(http: httpx.Client, slug: str, **body: Any) -> httpx.Response:
    return http.post(f"{API}/tools/execute/{slug}", json=body)


# --- the wire format, checked by the SDK's own models ---------------------------------------


def test_toolkit_pages_validate_and_cover_every_toolkit(
    double: ComposioDouble, http: httpx.Client
) -> None:
    bodies = pages(http, f"{API}/toolkits")
    assert len(bodies) == 2  # five toolkits, four a page
    parsed = [ToolkitListResponse.model_validate(b) for b in bodies]
    assert [i.slug for p in parsed for i in p.items] == double.toolkit_slugs()
    assert all(p.total_items == 5 for p in parsed)


def test_tool_pages_validate_for_each_filter(double: ComposioDouble, http: httpx.Client) -> None:
    github = pages(http, f"{API}/tools", toolkit_slug="github")
    assert len(github) > 1
    items = [i for b in github for i in ToolListResponse.model_validate(b).items]
    assert [i.slug for i in items] == double.tool_slugs(["github"])
    assert {i.version for i in items} == {DEFAULT_VERSION}
    both = pages(http, f"{API}/tools", toolkit_slug="github,slack", limit=100)
    assert sum(len(b["items"]) for b in both) == len(double.tool_slugs(["github", "slack"]))
    chosen = pages(http, f"{API}/tools", tool_slugs="GITHUB_GET_REPOSITORY,SLACK_SEND_MESSAGE")
    slugs = {i["slug"] for b in chosen for i in b["items"]}
    assert slugs == {"GITHUB_GET_REPOSITORY", "SLACK_SEND_MESSAGE"}
    found = pages(http, f"{API}/tools", query="repository")
    assert all(ToolListResponse.model_validate(b) for b in found)
    assert "GITHUB_GET_REPOSITORY" in {i["slug"] for b in found for i in b["items"]}


def test_read_hints_are_composio_tags(http: httpx.Client) -> None:
    read = ToolRetrieveResponse.model_validate(
        http.get(f"{API}/tools/GITHUB_GET_REPOSITORY").json()
    )
    write = ToolRetrieveResponse.model_validate(http.get(f"{API}/tools/GITHUB_CREATE_ISSUE").json())
    assert read.tags == ["readOnlyHint"]
    assert "readOnlyHint" not in write.tags
    assert read.input_parameters["type"] == "object"


def test_execute_answers_validate(double: ComposioDouble, http: httpx.Client) -> None:
    double.connect("W1", "github")
    ok = execute(
        http,
        "GITHUB_GET_REPOSITORY",
        user_id="W1",
        version=DEFAULT_VERSION,
        arguments={"owner": "o", "repo": "r"},
    )
    parsed = ToolExecuteResponse.model_validate(ok.json())
    assert parsed.successful and parsed.error is None
    assert parsed.data["arguments"] == {"owner": "o", "repo": "r"}
    missing = execute(
        http, "GITHUB_GET_REPOSITORY", user_id="W1", version=DEFAULT_VERSION, arguments={}
    )
    failed = ToolExecuteResponse.model_validate(missing.json())
    assert missing.status_code == 200 and not failed.successful
    assert "missing" in (failed.error or "")
    assert [c.slug for c in double.executions] == ["GITHUB_GET_REPOSITORY"] * 2


def test_connected_accounts_in_every_status_validate(
    double: ComposioDouble, http: httpx.Client
) -> None:
    ids = {status: double.connect("W1", "github", status) for status in ACCOUNT_STATUSES}
    double.connect("W1:U1", "slack")
    bodies = pages(http, f"{API}/connected_accounts", user_ids="W1")
    items = [i for b in bodies for i in ConnectedAccountListResponse.model_validate(b).items]
    assert {i.id: i.status for i in items} == {v: k for k, v in ids.items()}
    active = pages(http, f"{API}/connected_accounts", user_ids="W1", statuses="ACTIVE")
    assert [i["id"] for b in active for i in b["items"]] == [ids["ACTIVE"]]
    slack = pages(http, f"{API}/connected_accounts", toolkit_slugs="slack")
    assert [i["user_id"] for b in slack for i in b["items"]] == ["W1:U1"]


def test_auth_configs_and_links_validate(double: ComposioDouble, http: httpx.Client) -> None:
    configs = pages(http, f"{API}/auth_configs", toolkit_slug="linear")
    (config,) = [i for b in configs for i in AuthConfigListResponse.model_validate(b).items]
    response = http.post(
        f"{API}/connected_accounts/link", json={"auth_config_id": config.id, "user_id": "W1"}
    )
    assert response.status_code == 201
    link = LinkCreateResponse.model_validate(response.json())
    assert link.redirect_url.startswith(double.base_url)
    assert double.account_status(link.connected_account_id) == "INITIATED"
    assert httpx.get(link.redirect_url).status_code == 200  # the person finishes the flow
    assert double.account_status(link.connected_account_id) == "ACTIVE"
    assert double.count(LINK_CREATE) == 1


def test_errors_use_composio_envelope(double: ComposioDouble, http: httpx.Client) -> None:
    unknown = http.get(f"{API}/tools/NOPE_NOTHING")
    assert unknown.status_code == 404
    double.add_tool("GITHUB_X", "github", version="2", available_versions=["2"])
    stale = execute(http, "GITHUB_X", user_id="W1", version="1")
    assert stale.status_code == 404
    unconnected = execute(http, "GITHUB_X", user_id="W1", version="2")
    assert unconnected.status_code == 400
    no_key = httpx.get(f"{double.base_url}{API}/toolkits")
    assert no_key.status_code == 401
    for response in (unknown, stale, unconnected, no_key):
        envelope = response.json()["error"]
        assert set(envelope) >= {"message", "code", "slug", "status", "request_id"}
        assert envelope["status"] == response.status_code
    assert unconnected.json()["error"]["code"] == 1803


def test_the_sdk_reads_the_envelope(double: ComposioDouble) -> None:
    from composio import Composio

    sdk = Composio(api_key="wrong", base_url=double.base_url, allow_tracking=False, max_retries=0)
    try:
        with pytest.raises(composio_client.AuthenticationError) as caught:
            sdk.client.toolkits.list()
    finally:
        sdk.client.close()
    assert caught.value.details is not None
    assert caught.value.details["status"] == 401


# --- faults ---------------------------------------------------------------------------------


def test_fail_by_count_then_normal(double: ComposioDouble, http: httpx.Client) -> None:
    double.connect("W1", "github")
    double.fail(503, count=2)
    statuses = [
        execute(http, "GITHUB_LIST_REPOSITORIES", user_id="W1", version=DEFAULT_VERSION)
        for _ in range(3)
    ]
    assert [r.status_code for r in statuses] == [503, 503, 200]
    assert double.count(TOOLS_EXECUTE) == 3
    assert http.get(f"{API}/toolkits").status_code == 200  # other endpoints untouched


def test_faults_by_rate_repeat_with_the_seed(http: httpx.Client) -> None:
    def run(seed: int) -> list[int]:
        with ComposioDouble((), seed=seed) as fresh:
            fresh.fail(500, rate=0.3, endpoints=[TOOLKITS_LIST])
            headers = {"x-api-key": fresh.api_key}
            with httpx.Client(base_url=fresh.base_url, headers=headers) as client:
                return [client.get(f"{API}/toolkits").status_code for _ in range(40)]

    first = run(3)
    assert first == run(3)
    assert 0 < first.count(500) < 40


def test_rate_limit_sends_retry_after(double: ComposioDouble, http: httpx.Client) -> None:
    double.rate_limit(count=1, retry_after=2.5, endpoints=[TOOLS_LIST])
    limited = http.get(f"{API}/tools", params={"toolkit_slug": "github"})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2.5"
    assert http.get(f"{API}/tools", params={"toolkit_slug": "github"}).status_code == 200


def test_tool_failure_and_malformed_json(double: ComposioDouble, http: httpx.Client) -> None:
    double.connect("W1", "github")
    double.fail_tool(count=1)
    double.malformed_json(count=1)
    body = {"user_id": "W1", "version": DEFAULT_VERSION}
    failed = execute(http, "GITHUB_LIST_REPOSITORIES", **body)
    assert failed.json()["successful"] is False
    assert failed.json()["error"] == VALIDATION_MESSAGE
    garbled = execute(http, "GITHUB_LIST_REPOSITORIES", **body)
    assert garbled.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        garbled.json()
    assert execute(http, "GITHUB_LIST_REPOSITORIES", **body).json()["successful"] is True


def test_execute_handler_decides_data_and_failures(double: ComposioDouble) -> None:
    def handler(call: ExecuteCall) -> dict[str, Any]:
        if call.arguments.get("boom"):
            raise ToolFailed("the upstream API said no")
        return {"items": [1, 2]}

    double.execute_handler = handler
    double.connect("W1", "github")
    with httpx.Client(base_url=double.base_url, headers={"x-api-key": double.api_key}) as http:
        body = {"user_id": "W1", "version": DEFAULT_VERSION}
        ok = execute(http, "GITHUB_LIST_REPOSITORIES", arguments={}, **body).json()
        bad = execute(http, "GITHUB_LIST_REPOSITORIES", arguments={"boom": True}, **body).json()
    assert ok["data"] == {"items": [1, 2]}
    assert (bad["successful"], bad["error"]) == (False, "the upstream API said no")


def test_latency_holds_the_answer(double: ComposioDouble, http: httpx.Client) -> None:
    double.set_latency(2.0, endpoints=[TOOLS_LIST])
    with pytest.raises(httpx.ReadTimeout):
        http.get(f"{API}/tools", params={"toolkit_slug": "github"}, timeout=0.2)
    assert http.get(f"{API}/toolkits").status_code == 200


def test_refused_connections_then_back_on_the_same_port(
    double: ComposioDouble, http: httpx.Client
) -> None:
    url = double.base_url
    double.refuse_connections()
    with pytest.raises(httpx.ConnectError):
        http.get(f"{API}/toolkits")
    double.accept_connections()
    assert double.base_url == url
    assert http.get(f"{API}/toolkits").status_code == 200


def test_counts_every_request(double: ComposioDouble, http: httpx.Client) -> None:
    double.fail(503, endpoints=[CONNECTED_ACCOUNTS_LIST])
    http.get(f"{API}/toolkits")
    http.get(f"{API}/connected_accounts")
    http.get(f"{API}/tools", params={"toolkit_slug": "github"})
    assert double.counts() == {TOOLKITS_LIST: 1, CONNECTED_ACCOUNTS_LIST: 1, TOOLS_LIST: 1}
    assert double.total() == 3
    double.reset_counts()
    assert double.total() == 0


def test_bad_fault_arguments_are_refused(double: ComposioDouble) -> None:
    with pytest.raises(ValueError, match="count or rate"):
        double.fail(503, count=1, rate=0.5)
    with pytest.raises(ValueError, match="unknown endpoints"):
        double.fail(503, endpoints=["tools.nope"])
    with pytest.raises(ValueError, match="400-599"):
        double.fail(200)
