"""End to end on loopback with the Composio API double: ``lucy index build`` indexes Composio's
tools, ``lucy retrieve`` ranks a Composio tool first for a request naming its toolkit, a
toolkit whose account is INACTIVE is a missing connection (none of its tools a candidate), and
``/v1/respond`` executes a Composio tool, or answers with Composio's connect link."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lucy.api import create_app
from lucy.cli import app
from lucy.settings import Settings
from lucy.testing import Call, ComposioDouble, ScriptedLLM, Text, ToolCalls

WORKSPACE = "T9"
ACCOUNTS: dict[str, str] = {}  # toolkit -> the workspace's account id at the double


@pytest.fixture(scope="module")
def double() -> Iterator[ComposioDouble]:
    with ComposioDouble(page_size=7) as running:
        ACCOUNTS["github"] = running.connect(WORKSPACE, "github")
        running.connect(WORKSPACE, "slack")
        lapsed = running.connect(WORKSPACE, "linear")
        running.set_account_status(lapsed, "INACTIVE")
        yield running


@pytest.fixture(scope="module")
def env(double: ComposioDouble, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {
        "LUCY_DATA_DIR": str(tmp_path_factory.mktemp("composio-e2e")),
        "LUCY_DEMO_CATALOG": "false",
        "LUCY_COMPOSIO_API_KEY": double.api_key,
        "LUCY_COMPOSIO_BASE_URL": double.base_url,
    }
    out = lucy(env, "index", "build")
    assert "re-embedded" in out
    return env


def lucy(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def retrieve(env: dict[str, str], query: str, *extra: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        lucy(env, "retrieve", query, "--json", "-w", WORKSPACE, *extra)
    )
    return body


def test_the_build_indexes_composios_tools(env: dict[str, str], double: ComposioDouble) -> None:
    status = json.loads(lucy(env, "index", "status", "--json"))
    assert status["tools_by_provider"].keys() == {"composio"}
    assert status["toolkits"] == 5 and status["tools"] > 7  # more than one page


def test_a_request_naming_a_connected_toolkit_ranks_its_tool_first(env: dict[str, str]) -> None:
    body = retrieve(env, "create an issue in GitHub for the login crash")
    assert body["candidates"][0]["slug"] == "GITHUB_CREATE_ISSUE"


def test_an_inactive_account_is_a_missing_connection(env: dict[str, str]) -> None:
    body = retrieve(env, "open a bug in linear for the login crash", "-k", "10")
    assert all(c["toolkit"] != "linear" for c in body["candidates"])
    assert [m["toolkit"] for m in body["missing_connections"]][:1] == ["linear"]


def respond(env: dict[str, str], llm: ScriptedLLM, question: str, monkeypatch) -> dict[str, Any]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings(llm_base_url=llm.base_url, llm_model=llm.model)
    with TestClient(create_app(settings)) as client:
        reply = client.post(
            "/v1/respond",
            json={"workspace_id": WORKSPACE, "thread": [{"role": "user", "content": question}]},
        )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_a_respond_turn_executes_a_composio_tool(
    env: dict[str, str], double: ComposioDouble, monkeypatch
) -> None:
    args = {"owner": "acme", "repo": "web", "title": "Login crash"}
    turns = [ToolCalls([Call("GITHUB_CREATE_ISSUE", args)]), Text("Filed it.")]
    before = len(double.executions)
    with ScriptedLLM(turns) as llm:
        body = respond(env, llm, "create an issue in GitHub for the login crash", monkeypatch)
    call = body["trace"]["calls"][0]
    assert call["slug"] == "GITHUB_CREATE_ISSUE" and call["ok"] and call["provider"] == "composio"
    sent = double.executions[before:]
    assert [(e.slug, e.user_id, e.arguments) for e in sent] == [
        ("GITHUB_CREATE_ISSUE", WORKSPACE, args)
    ]
    assert sent[0].version == "20251201_00"  # the version the index holds
    assert body["text"] == "Filed it."


def test_a_missing_connection_is_answered_with_composios_link(
    env: dict[str, str], double: ComposioDouble, monkeypatch
) -> None:
    with ScriptedLLM([Text("never asked")]) as llm:
        body = respond(env, llm, "open a bug in linear for the login crash", monkeypatch)
        assert llm.requests == []  # a deterministic reply, no LLM call
    assert body["flags"]["connection_required"]
    assert "Linear" in body["text"] and f"{double.base_url}/link/" in body["text"]


FAULTS: list[tuple[str, Any, str]] = [  # the breaker-tripping ones last: it is shared
    ("403", lambda d: d.fail(403, count=1), "auth"),
    ("validation", lambda d: d.fail_tool(count=1), "invalid_arguments"),
    (
        "inactive",
        lambda d: d.set_account_status(ACCOUNTS["github"], "INACTIVE"),
        "connection_required",
    ),
    ("429 x3", lambda d: d.rate_limit(count=3, retry_after=0.05), "rate_limited"),
    ("refused", lambda d: d.refuse_connections(), "provider_unavailable"),
    ("503 x3", lambda d: d.fail(503, count=3), "provider_unavailable"),
    ("malformed x3", lambda d: d.malformed_json(count=3), "provider_unavailable"),
]


def test_each_fault_ends_in_a_reply_a_person_can_act_on(
    env: dict[str, str], double: ComposioDouble, monkeypatch
) -> None:
    """The model calls a read tool, the double plays a fault, the model then says nothing:
    Lucy's own reply names the tool and what went wrong, in the person's terms."""
    from lucy.models import ToolErrorKind
    from lucy.testing import Empty

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    args = {"owner": "acme", "repo": "web"}
    turns = [ToolCalls([Call("GITHUB_LIST_ISSUES", args)]), Empty(), Empty()] * len(FAULTS)
    with ScriptedLLM(turns) as llm:
        settings = Settings(llm_base_url=llm.base_url, llm_model=llm.model)
        with TestClient(create_app(settings)) as client:
            for name, play, kind in FAULTS:
                double.accept_connections()
                double.clear_faults()
                double.set_account_status(ACCOUNTS["github"], "ACTIVE")
                play(double)
                reply = client.post(
                    "/v1/respond",
                    json={
                        "workspace_id": WORKSPACE,
                        "thread": [{"role": "user", "content": "list the open issues in acme/web"}],
                    },
                )
                assert reply.status_code == 200, (name, reply.text)
                body = reply.json()
                call = body["trace"]["calls"][0]
                assert call["error"]["kind"] == kind, (name, call)
                assert body["flags"]["fallback_used"], name
                text = body["text"]
                assert "GITHUB_LIST_ISSUES" in text, (name, text)
                assert ToolErrorKind(kind).user_message in text, (name, text)
    double.accept_connections()
    double.clear_faults()
    double.set_account_status(ACCOUNTS["github"], "ACTIVE")


WEBHOOK_SECRET = "whsec-for-tests"


def test_an_expired_account_webhook_drops_the_cached_connection(
    env: dict[str, str], double: ComposioDouble, monkeypatch
) -> None:
    """Composio's signed V3 ``connected_account.expired`` webhook, through the API: the
    workspace's cached connections are read again (before it, the cache still said GitHub)."""
    for key, value in {**env, "LUCY_COMPOSIO_WEBHOOK_SECRET": WEBHOOK_SECRET}.items():
        monkeypatch.setenv(key, value)
    where = f"/v1/workspaces/{WORKSPACE}/connections"
    try:
        with TestClient(create_app(Settings())) as client:
            assert "github" in client.get(where).json()["toolkits"]
            double.set_account_status(ACCOUNTS["github"], "EXPIRED")
            assert "github" in client.get(where).json()["toolkits"]  # cached: not told yet
            body, headers = double.account_webhook(ACCOUNTS["github"], WEBHOOK_SECRET)
            hook = "/v1/events/providers/composio"
            reply = client.post(hook, content=body, headers=headers)
            assert reply.status_code == 200, reply.text
            assert reply.json()["applied"] and reply.json()["invalidated"] == [WORKSPACE]
            assert "github" not in client.get(where).json()["toolkits"]
            again = client.post(hook, content=body, headers=headers)  # a redelivery
            assert again.status_code == 200 and not again.json()["applied"]
            forged = {**headers, "webhook-signature": "v1,AAAA"}
            assert client.post(hook, content=body, headers=forged).status_code == 401
            stale, old = double.account_webhook(
                ACCOUNTS["github"], WEBHOOK_SECRET, timestamp=int(time.time()) - 3600
            )
            assert client.post(hook, content=stale, headers=old).status_code == 401
            other = client.post("/v1/events/providers/nope", content=body, headers=headers)
            assert other.status_code == 422 and "composio" in other.text
    finally:
        double.set_account_status(ACCOUNTS["github"], "ACTIVE")


def test_a_composio_user_id_names_every_owner_it_could() -> None:
    from lucy.providers.composio.webhooks import owners_of

    assert owners_of("T9") == [("T9", None)]
    assert owners_of("T9:U1") == [("T9:U1", None), ("T9", "U1")]
