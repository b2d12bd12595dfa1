"""The demo provider: native result shapes, paging, filters, errors, and a run through the
executor."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from lucy.capability_index.catalog import load_catalog
from lucy.models import ToolErrorKind, ToolSpec
from lucy.providers.base import CallContext, ProviderCallError
from lucy.providers.demo import DEMO_TOOLS, DemoData, DemoProvider, generate_demo_data
from lucy.providers.demo.request import PAGE_SIZES
from lucy.providers.resilience import ToolExecutor

NOW = datetime(2025, 3, 5, 14, 0, tzinfo=UTC)  # a Wednesday
MONDAY = datetime(2025, 3, 3, tzinfo=UTC)
NEXT_MONDAY = MONDAY + timedelta(days=7)
WEEK: dict[str, Any] = {"time_min": "2025-03-03T00:00:00Z", "time_max": "2025-03-10T00:00:00Z"}
CONTEXT = CallContext(workspace_id="W1", user_id="U1", deadline=float("inf"))

CATALOG = load_catalog().by_slug()
DATA = generate_demo_data(seed=0, now=NOW)


def call(slug: str, provider: DemoProvider | None = None, **arguments: Any) -> Any:
    provider = provider or DemoProvider(DATA)
    return asyncio.run(provider.execute(CATALOG[slug], arguments, CONTEXT))


def refused(slug: str, provider: DemoProvider | None = None, **arguments: Any) -> ProviderCallError:
    with pytest.raises(ProviderCallError) as caught:
        call(slug, provider, **arguments)
    return caught.value


# --- the data set ---------------------------------------------------------------------------


def test_the_data_set_is_deterministic_for_a_seed_and_now() -> None:
    assert generate_demo_data(seed=0, now=NOW) == DATA
    assert generate_demo_data(seed=1, now=NOW) != DATA
    later = generate_demo_data(seed=0, now=NOW + timedelta(days=7))
    assert later.events[0].start == DATA.events[0].start + timedelta(days=7)
    assert (len(DATA.events), len(DATA.issues), len(DATA.messages)) == (30, 40, 40)


def test_the_data_set_spans_this_week_and_the_next() -> None:
    assert DATA.week_start == MONDAY
    starts = [e.start for e in DATA.events]
    assert starts == sorted(starts)
    assert all(e.start >= MONDAY and e.end <= MONDAY + timedelta(days=14) for e in DATA.events)
    for day in range(12):  # several events a weekday
        count = sum(1 for s in starts if s.date() == (MONDAY + timedelta(days=day)).date())
        assert count >= 2 or (MONDAY + timedelta(days=day)).weekday() >= 5
    assert sum(1 for e in DATA.events if e.recurring_id == "standup") == 10
    assert {i.toolkit for i in DATA.issues} == {"github", "gitlab", "linear", "jira"}
    assert {i.state for i in DATA.issues} == {"open", "closed"}
    assert {m.source for m in DATA.messages} == {"slack", "gmail"}
    assert all(m.ts < NOW for m in DATA.messages)
    assert len({m.id for m in DATA.messages}) == len(DATA.messages)


def test_default_now_is_the_current_time() -> None:
    data = generate_demo_data()
    assert abs((data.now - datetime.now(UTC)).total_seconds()) < 60
    assert data.week_start.weekday() == 0 and data.week_start <= data.now


# --- support --------------------------------------------------------------------------------


def test_every_demo_tool_is_a_read_tool_of_the_catalog() -> None:
    provider = DemoProvider(DATA)
    for slug in DEMO_TOOLS:
        assert CATALOG[slug].read_only, slug
        assert provider.supports(CATALOG[slug])


def test_page_size_defaults_are_the_catalogs() -> None:
    for slug, (argument, default) in PAGE_SIZES.items():
        described = CATALOG[slug].parameters["properties"][argument]["description"]
        documented = re.search(r"default (\d+)", described, re.IGNORECASE)
        assert documented is not None and int(documented[1]) == default, slug


def test_write_tools_and_unimplemented_read_tools_are_unsupported() -> None:
    provider = DemoProvider(DATA)
    for slug in ("GOOGLECALENDAR_CREATE_EVENT", "GITHUB_CREATE_ISSUE", "SLACK_SEND_MESSAGE"):
        assert not CATALOG[slug].read_only
        assert not provider.supports(CATALOG[slug])
    assert not provider.supports(CATALOG["GMAIL_LIST_LABELS"])
    supported = [t for t in CATALOG.values() if provider.supports(t)]
    assert sorted(t.slug for t in supported) == sorted(DEMO_TOOLS)
    # a tool marked read-only elsewhere but writing here is refused too
    writing = CATALOG["GITHUB_LIST_ISSUES"].model_copy(update={"read_only": False})
    assert not provider.supports(writing)
    error = refused("GMAIL_LIST_LABELS")
    assert error.kind is ToolErrorKind.PROVIDER_ERROR and error.details == {"supported": False}


# --- native shapes --------------------------------------------------------------------------

SHAPES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("GOOGLECALENDAR_LIST_EVENTS", WEEK, {"kind", "summary", "timeZone", "items"}),
    (
        "OUTLOOK_LIST_EVENTS",
        {"start_date_time": "2025-03-03T00:00:00Z", "end_date_time": "2025-03-10T00:00:00Z"},
        {"@odata.context", "value"},
    ),
    (
        "GITHUB_LIST_ISSUES",
        {"owner": "acme", "repo": "web"},
        {"items", "page", "per_page", "has_more"},
    ),
    (
        "GITHUB_SEARCH_ISSUES",
        {"q": "repo:acme/api"},
        {"total_count", "incomplete_results", "items"},
    ),
    ("GITLAB_LIST_ISSUES", {"id": "acme%2Finfra"}, {"items", "page", "per_page", "has_more"}),
    ("LINEAR_LIST_ISSUES", {}, {"nodes", "pageInfo"}),
    ("LINEAR_SEARCH_ISSUES", {"term": "the"}, {"nodes", "pageInfo"}),
    ("JIRA_SEARCH_ISSUES", {"jql": "project = OPS"}, {"issues", "isLast"}),
    ("SLACK_SEARCH_MESSAGES", {"query": "the"}, {"ok", "query", "messages"}),
    ("GMAIL_LIST_MESSAGES", {}, {"messages", "resultSizeEstimate"}),
    ("GMAIL_SEARCH_MESSAGES", {"q": "in:inbox"}, {"messages", "resultSizeEstimate"}),
]


@pytest.mark.parametrize(("slug", "arguments", "keys"), SHAPES, ids=[s[0] for s in SHAPES])
def test_list_tools_answer_in_their_native_shape(
    slug: str, arguments: dict[str, Any], keys: set[str]
) -> None:
    result = call(slug, **arguments)
    assert keys <= set(result)
    assert not set(result) - keys - {"nextPageToken", "@odata.nextLink", "warningMessages"}


def test_native_item_shapes() -> None:
    event = call("GOOGLECALENDAR_LIST_EVENTS", **WEEK)["items"][0]
    assert {"id", "summary", "start", "end", "attendees", "location", "organizer"} <= set(event)
    assert event["start"]["dateTime"].endswith("Z")
    outlook = call(
        "OUTLOOK_LIST_EVENTS", start_date_time=WEEK["time_min"], end_date_time=WEEK["time_max"]
    )["value"][0]
    assert outlook["subject"] == event["summary"]
    assert outlook["start"] == {"dateTime": "2025-03-03T09:30:00.0000000", "timeZone": "UTC"}
    issue = call("GITHUB_LIST_ISSUES", owner="acme", repo="web")["items"][0]
    assert {"number", "title", "state", "labels", "assignee", "created_at", "html_url"} <= set(
        issue
    )
    node = call("LINEAR_LIST_ISSUES")["nodes"][0]
    assert re.fullmatch(r"ENG-\d+", node["identifier"]) and set(node["state"]) == {"name", "type"}
    jira = call("JIRA_SEARCH_ISSUES", jql="project = OPS")["issues"][0]
    assert re.fullmatch(r"OPS-\d+", jira["key"]) and "summary" in jira["fields"]
    match = call("SLACK_SEARCH_MESSAGES", query="the")["messages"]["matches"][0]
    assert {"ts", "text", "user", "username", "channel", "permalink"} <= set(match)
    mail = call("GMAIL_LIST_MESSAGES")["messages"][0]
    assert {"id", "threadId", "labelIds", "snippet", "payload"} <= set(mail)
    headers = {h["name"] for h in mail["payload"]["headers"]}
    assert headers == {"From", "To", "Subject", "Date"}


def test_get_tools_find_one_item_or_answer_404() -> None:
    event = DATA.events[3]
    assert call("GOOGLECALENDAR_GET_EVENT", event_id=event.id)["summary"] == event.summary
    issue = next(i for i in DATA.issues if i.toolkit == "github")
    owner, repo = issue.container.split("/")
    got = call("GITHUB_GET_ISSUE", owner=owner, repo=repo, issue_number=issue.number)
    assert got["title"] == issue.title
    linear = next(i for i in DATA.issues if i.toolkit == "linear")
    assert call("LINEAR_GET_ISSUE", id=linear.key)["title"] == linear.title
    jira = next(i for i in DATA.issues if i.toolkit == "jira")
    assert call("JIRA_GET_ISSUE", issue_id_or_key=jira.key)["fields"]["summary"] == jira.title
    missing: list[tuple[str, dict[str, Any]]] = [
        ("GOOGLECALENDAR_GET_EVENT", {"event_id": "nope"}),
        ("GITHUB_GET_ISSUE", {"owner": "acme", "repo": "web", "issue_number": 9999}),
        ("LINEAR_GET_ISSUE", {"id": "ENG-9999"}),
        ("JIRA_GET_ISSUE", {"issue_id_or_key": "OPS-9999"}),
        ("GITHUB_LIST_ISSUES", {"owner": "acme", "repo": "nope"}),
        ("GOOGLECALENDAR_LIST_EVENTS", {"calendar_id": "someone@else.example"}),
    ]
    for slug, arguments in missing:
        error = refused(slug, **arguments)
        assert (error.kind, error.status) == (ToolErrorKind.PROVIDER_ERROR, 404), slug


# --- paging ---------------------------------------------------------------------------------


def test_walking_the_weeks_pages_yields_each_event_once_in_order() -> None:
    expected = [e for e in DATA.events if e.start < NEXT_MONDAY and e.end > MONDAY]
    assert len(expected) > 10  # more than one page at the default cap
    seen: list[dict[str, Any]] = []
    arguments: dict[str, Any] = dict(WEEK)
    pages = 0
    while True:
        result = call("GOOGLECALENDAR_LIST_EVENTS", **arguments)
        pages += 1
        assert len(result["items"]) <= 10
        seen += result["items"]
        if "nextPageToken" not in result:
            break
        arguments["page_token"] = result["nextPageToken"]
    assert pages == 2
    assert [e["id"] for e in seen] == [e.id for e in expected]
    assert [e["start"]["dateTime"] for e in seen] == sorted(e["start"]["dateTime"] for e in seen)


Walk = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]


def _token(key: str, argument: str) -> Walk:
    def step(result: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any] | None:
        return {**arguments, argument: result[key]} if key in result else None

    return step


def _next_page(more: Callable[[dict[str, Any], int], bool]) -> Walk:
    def step(result: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any] | None:
        page = arguments.get("page", 1)
        return {**arguments, "page": page + 1} if more(result, page) else None

    return step


def _linear(result: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any] | None:
    info = result["pageInfo"]
    return {**arguments, "after": info["endCursor"]} if info["hasNextPage"] else None


def _outlook(result: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any] | None:
    link = result.get("@odata.nextLink")
    if link is None:
        return None
    return {**arguments, "skip": int(parse_qs(urlparse(link).query)["$skip"][0])}


def _ids(data: DemoData, toolkit: str, container: str | None = None) -> list[str]:
    issues = [i for i in data.issues if i.toolkit == toolkit]
    issues = [i for i in issues if container is None or i.container == container]
    return [i.key for i in sorted(issues, key=lambda i: i.created_at, reverse=True)]


def _week(data: DemoData) -> list[str]:
    return [e.id for e in data.events if e.start < NEXT_MONDAY and e.end > MONDAY]


WALKS: list[tuple[str, dict[str, Any], Walk, Callable[[Any], list[str]], list[str]]] = [
    (
        "GOOGLECALENDAR_LIST_EVENTS",
        WEEK,
        _token("nextPageToken", "page_token"),
        lambda r: [e["id"] for e in r["items"]],
        _week(DATA),
    ),
    (
        "OUTLOOK_LIST_EVENTS",
        {"start_date_time": WEEK["time_min"], "end_date_time": WEEK["time_max"]},
        _outlook,
        lambda r: [e["id"] for e in r["value"]],
        _week(DATA),
    ),
    (
        "GITHUB_LIST_ISSUES",
        {"owner": "acme", "repo": "web", "state": "all"},
        _next_page(lambda r, _: r["has_more"]),
        lambda r: [f"acme/web#{i['number']}" for i in r["items"]],
        _ids(DATA, "github", "acme/web"),
    ),
    (
        "GITHUB_SEARCH_ISSUES",
        {"q": "is:issue"},
        _next_page(lambda r, page: page * 3 < r["total_count"]),
        lambda r: [
            i["html_url"].split("github.com/")[1].replace("/issues/", "#") for i in r["items"]
        ],
        _ids(DATA, "github"),
    ),
    (
        "GITLAB_LIST_ISSUES",
        {"id": "7"},
        _next_page(lambda r, _: r["has_more"]),
        lambda r: [f"acme/infra#{i['iid']}" for i in r["items"]],
        _ids(DATA, "gitlab"),
    ),
    (
        "LINEAR_LIST_ISSUES",
        {},
        _linear,
        lambda r: [n["identifier"] for n in r["nodes"]],
        _ids(DATA, "linear"),
    ),
    (
        "JIRA_SEARCH_ISSUES",
        {"jql": "project = OPS"},
        _token("nextPageToken", "next_page_token"),
        lambda r: [i["key"] for i in r["issues"]],
        _ids(DATA, "jira"),
    ),
    (
        "SLACK_SEARCH_MESSAGES",
        {"query": "in:#engineering"},
        _next_page(lambda r, page: page < r["messages"]["paging"]["pages"]),
        lambda r: [m["ts"] for m in r["messages"]["matches"]],
        [m.id for m in DATA.messages if m.channel == "engineering"],
    ),
    (
        "GMAIL_LIST_MESSAGES",
        {},
        _token("nextPageToken", "page_token"),
        lambda r: [m["id"] for m in r["messages"]],
        [m.id for m in DATA.messages if m.source == "gmail"],
    ),
]


@pytest.mark.parametrize(
    ("slug", "first", "step", "ids", "expected"), WALKS, ids=[w[0] for w in WALKS]
)
def test_walking_every_page_yields_each_item_once(
    slug: str,
    first: dict[str, Any],
    step: Walk,
    ids: Callable[[Any], list[str]],
    expected: list[str],
) -> None:
    provider = DemoProvider(DATA, page_size_cap=3)
    seen: list[str] = []
    arguments: dict[str, Any] | None = dict(first)
    pages = 0
    while arguments is not None:
        result = call(slug, provider, **arguments)
        page = ids(result)
        assert len(page) <= 3
        seen += page
        pages += 1
        arguments = step(result, arguments)
    assert len(expected) > 3 and pages == -(-len(expected) // 3)
    assert seen == expected


def test_page_sizes_are_the_requested_ones_up_to_the_cap() -> None:
    assert len(call("GOOGLECALENDAR_LIST_EVENTS", max_results=2500)["items"]) == 10
    assert len(call("GOOGLECALENDAR_LIST_EVENTS", max_results=4)["items"]) == 4
    assert len(call("GOOGLECALENDAR_LIST_EVENTS")["items"]) == 10  # default 250, capped
    wide = DemoProvider(DATA, page_size_cap=100)
    assert len(call("GOOGLECALENDAR_LIST_EVENTS", wide)["items"]) == 30
    assert "nextPageToken" not in call("GOOGLECALENDAR_LIST_EVENTS", wide)
    assert (
        len(
            call(
                "OUTLOOK_LIST_EVENTS",
                wide,
                start_date_time=WEEK["time_min"],
                end_date_time=WEEK["time_max"],
            )["value"]
        )
        == 10
    )  # Graph default top
    paging = call("SLACK_SEARCH_MESSAGES", query="the", count=50)["messages"]["paging"]
    assert paging["count"] == 10
    with pytest.raises(ValueError):
        DemoProvider(DATA, page_size_cap=0)


@pytest.mark.parametrize(
    ("slug", "arguments", "argument"),
    [
        ("GOOGLECALENDAR_LIST_EVENTS", {"page_token": "garbage!"}, "page_token"),
        ("GMAIL_LIST_MESSAGES", {"page_token": "eyJ4IjogMX0"}, "page_token"),  # {"x": 1}
        ("LINEAR_LIST_ISSUES", {"after": "not-a-cursor"}, "after"),
        ("JIRA_SEARCH_ISSUES", {"jql": "project = OPS", "next_page_token": "x"}, "next_page_token"),
    ],
)
def test_a_bad_page_token_is_a_provider_error(
    slug: str, arguments: dict[str, Any], argument: str
) -> None:
    error = refused(slug, **arguments)
    assert (error.kind, error.status) == (ToolErrorKind.PROVIDER_ERROR, 400)
    assert error.details == {"argument": argument}
    assert argument in str(error)


def test_a_token_only_pages_the_query_and_tool_it_came_from() -> None:
    token = call("GOOGLECALENDAR_LIST_EVENTS", max_results=2)["nextPageToken"]
    assert call("GOOGLECALENDAR_LIST_EVENTS", max_results=5, page_token=token)["items"]
    error = refused("GOOGLECALENDAR_LIST_EVENTS", q="standup", page_token=token)
    assert "different query" in str(error)
    error = refused("GMAIL_LIST_MESSAGES", page_token=token)
    assert "not a token this tool issued" in str(error)


# --- filters --------------------------------------------------------------------------------


def test_calendar_filters() -> None:
    standups = call("GOOGLECALENDAR_LIST_EVENTS", **WEEK, q="standup")["items"]
    assert len(standups) == 5
    one_day = call(
        "GOOGLECALENDAR_LIST_EVENTS",
        time_min="2025-03-04T00:00:00Z",
        time_max="2025-03-05T00:00:00Z",
    )["items"]
    expected = [e.id for e in DATA.events if e.start.day == 4 and e.start.month == 3]
    assert [e["id"] for e in one_day] == expected
    berlin = call("GOOGLECALENDAR_GET_EVENT", event_id=standups[0]["id"], time_zone="Europe/Berlin")
    assert berlin["start"] == {"dateTime": "2025-03-03T10:30:00+01:00", "timeZone": "Europe/Berlin"}
    assert refused("GOOGLECALENDAR_LIST_EVENTS", time_min="next week").status == 400
    assert refused("GOOGLECALENDAR_LIST_EVENTS", time_zone="Mars/Olympus").status == 400
    assert (
        refused(
            "OUTLOOK_LIST_EVENTS", start_date_time=WEEK["time_max"], end_date_time=WEEK["time_min"]
        ).status
        == 400
    )


def test_issue_filters() -> None:
    open_bugs = call("GITHUB_LIST_ISSUES", owner="acme", repo="web", labels="bug")["items"]
    expected = [i for i in DATA.issues if i.container == "acme/web" and i.state == "open"]
    assert {i["number"] for i in open_bugs} == {i.number for i in expected if "bug" in i.labels}
    mine = call("GITHUB_SEARCH_ISSUES", q="assignee:alex is:closed", per_page=100)["items"]
    assert all(i["assignee"]["login"] == "alex" and i["state"] == "closed" for i in mine)
    assert call("GITHUB_SEARCH_ISSUES", q="is:pr")["total_count"] == 0
    started = call("LINEAR_LIST_ISSUES", state_type="started")["nodes"]
    assert all(n["state"]["type"] == "started" for n in started)
    assert refused("LINEAR_LIST_ISSUES", team_id="nope").status == 404
    assert refused("GITLAB_LIST_ISSUES", id="acme/nope").status == 404


def test_jql() -> None:
    def keys(jql: str) -> list[str]:
        result = call("JIRA_SEARCH_ISSUES", jql=jql, max_results=100)
        return [i["key"] for i in result["issues"]]

    jira = [i for i in DATA.issues if i.toolkit == "jira"]
    not_done = {i.key for i in jira if i.status != "Done"}
    assert set(keys('project = OPS AND status != "Done"')) == not_done
    assert set(keys("project = OPS AND resolution = Unresolved")) == not_done
    assert set(keys("statusCategory = Done")) == {i.key for i in jira if i.state == "closed"}
    mine = {i.key for i in jira if i.assignee == "alex"}
    assert set(keys("assignee = currentUser()")) == mine
    recent = {i.key for i in jira if i.created_at >= NOW - timedelta(days=7)}
    assert set(keys("project = OPS AND created >= -7d")) == recent
    ordered = keys("project = OPS ORDER BY key ASC")
    assert ordered == sorted(ordered, key=lambda k: int(k.split("-")[1]))
    word = jira[0].title.split()[-1]
    assert jira[0].key in keys(f'text ~ "{word}"')
    result = call("JIRA_SEARCH_ISSUES", jql="project = OPS AND priority = High")
    assert result["warningMessages"] == [
        "The demo JQL reader ignored the clause 'priority = High'."
    ]


def test_message_filters() -> None:
    matches = call("SLACK_SEARCH_MESSAGES", query="from:@maria in:#engineering")["messages"]
    expected = [m for m in DATA.messages if m.author == "maria" and m.channel == "engineering"]
    assert matches["total"] == len(expected)
    unread = call("GMAIL_SEARCH_MESSAGES", q="is:unread")["messages"]
    assert {m["id"] for m in unread} == {m.id for m in DATA.messages if "UNREAD" in m.labels}
    week = call("GMAIL_SEARCH_MESSAGES", q="newer_than:7d")["resultSizeEstimate"]
    assert week == sum(
        1 for m in DATA.messages if m.source == "gmail" and m.ts > NOW - timedelta(days=7)
    )
    inbox = call("GMAIL_LIST_MESSAGES", label_ids=["INBOX", "UNREAD"])["resultSizeEstimate"]
    assert inbox == len(unread)
    assert refused("GMAIL_SEARCH_MESSAGES", q="newer_than:soon").status == 400


# --- through the executor -------------------------------------------------------------------


def test_demo_tools_run_through_the_executor() -> None:
    executor = ToolExecutor([DemoProvider(DATA)])
    context = CallContext(workspace_id="W1", user_id="U1", deadline=time.monotonic() + 30)

    def run(tool: ToolSpec, arguments: dict[str, Any]) -> Any:
        return asyncio.run(executor.run(tool, arguments, context, call_id="c1"))

    result = run(CATALOG["GOOGLECALENDAR_LIST_EVENTS"], dict(WEEK))
    assert result.ok and result.attempts == 1
    assert len(result.data["items"]) == 10 and "nextPageToken" in result.data
    bad = run(CATALOG["GOOGLECALENDAR_LIST_EVENTS"], {"page_token": "x"})
    assert bad.error is not None and bad.error.kind is ToolErrorKind.PROVIDER_ERROR
    assert bad.attempts == 1 and bad.error.details["status"] == 400
    write = run(CATALOG["GOOGLECALENDAR_CREATE_EVENT"], {})
    assert write.error is not None and write.error.kind is ToolErrorKind.EXECUTION_ERROR
    assert write.attempts == 0 and "no provider can run" in write.error.message
    assert executor.breakers.states() == {"demo:googlecalendar": "closed"}
