"""Unit tests of the planner's guards: budget, call checks, repeats, context bounds, the
completeness signals and the replies Lucy writes herself."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from lucy.models import (
    Candidate,
    IntentTags,
    MissingConnection,
    RetrievalResult,
    RetrievalTimings,
    ToolError,
    ToolErrorKind,
    ToolResult,
)
from lucy.planner.budget import Budget
from lucy.planner.completeness import (
    claims_completeness,
    more_available,
    next_page_arguments,
)
from lucy.planner.connection import needs_connection
from lucy.planner.context import (
    COMPACTED_MARKER,
    fit_prompt,
    prompt_tokens,
    render_result,
    wire_messages,
)
from lucy.planner.gate import Chains, qualify
from lucy.planner.guards import Repeat, RepeatGuard, check_call, parse_arguments
from lucy.planner.prompts import opening_messages, request_query
from lucy.planner.replies import connection_required, summarize_results, to_slack

SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "labels": {"type": "array", "items": {"type": "string"}},
        "limit": {"type": "integer", "minimum": 1},
    },
    "required": ["title"],
}


def candidate(
    slug: str, toolkit: str = "linear", schema: dict[str, Any] | None = None
) -> Candidate:
    return Candidate(
        slug=slug,
        toolkit=toolkit,
        name=slug.lower(),
        description="d",
        parameters=schema or SCHEMA,
        score=1.0,
        similarity=0.6,
        tags=IntentTags(),
        read_only=True,
        destructive=False,
    )


OFFERED = {"LINEAR_CREATE_ISSUE": candidate("LINEAR_CREATE_ISSUE")}


# -- budget ------------------------------------------------------------------------------


def test_budget_keeps_one_step_for_the_final_answer() -> None:
    now = [0.0]
    budget = Budget(3, 2, 10.0, clock=lambda: now[0])
    assert budget.can_plan()
    budget.spend_step()
    budget.spend_step()
    assert not budget.can_plan() and budget.can_finalize()
    budget.spend_step()
    assert not budget.can_finalize()
    assert "planning steps" in budget.exhausted_reason()


def test_budget_deadline_and_tool_calls() -> None:
    now = [0.0]
    budget = Budget(5, 1, 10.0, clock=lambda: now[0])
    budget.spend_tool_call()
    assert not budget.can_call_tool()
    assert "tool calls" in budget.exhausted_reason()
    now[0] = 10.5
    assert budget.remaining() == 0.0 and not budget.can_plan() and not budget.can_finalize()
    assert "deadline" in budget.exhausted_reason()


def test_budget_refuses_a_budget_without_a_final_step() -> None:
    with pytest.raises(ValueError, match="final answer"):
        Budget(1, 5, 10.0)


# -- call checks ---------------------------------------------------------------------------


def test_unknown_tool_is_rejected_with_the_valid_names() -> None:
    error = check_call("LINEAR_DELETE_EVERYTHING", "{}", OFFERED, None)
    assert isinstance(error, ToolError)
    assert error.kind is ToolErrorKind.UNKNOWN_TOOL
    assert error.details["valid_tools"] == ["LINEAR_CREATE_ISSUE"]


def test_parse_error_carries_the_parser_message() -> None:
    error = check_call("LINEAR_CREATE_ISSUE", '{"title": ', OFFERED, None)
    assert isinstance(error, ToolError)
    assert error.kind is ToolErrorKind.PARSE_ERROR
    assert "Expecting value" in error.message and "column" in error.message
    array = parse_arguments("[1, 2]")
    assert isinstance(array, ToolError) and "JSON object" in array.message


def test_schema_violation_names_the_failing_paths() -> None:
    error = check_call("LINEAR_CREATE_ISSUE", '{"labels": ["a", 3], "limit": 0}', OFFERED, None)
    assert isinstance(error, ToolError)
    assert error.kind is ToolErrorKind.INVALID_ARGUMENTS
    problems = error.details["problems"]
    assert "$: 'title' is a required property" in problems
    assert any(p.startswith("$.labels[1]:") for p in problems)
    assert any(p.startswith("$.limit:") for p in problems)


def test_unconnected_toolkit_is_refused_and_valid_call_parsed() -> None:
    error = check_call("LINEAR_CREATE_ISSUE", '{"title": "x"}', OFFERED, {"slack"})
    assert isinstance(error, ToolError) and error.kind is ToolErrorKind.CONNECTION_REQUIRED
    assert check_call("LINEAR_CREATE_ISSUE", ' {"title": "x"} ', OFFERED, {"linear"}) == {
        "title": "x"
    }
    assert parse_arguments("") == {}


def test_repeat_guard_reuses_then_breaks_on_canonical_arguments() -> None:
    guard = RepeatGuard()
    result = ToolResult(call_id="1", slug="T", data={"n": 1}, attempts=1)
    assert guard.check("T", {"a": 1, "b": [1, 2]}) == (Repeat.NEW, None)
    guard.record("T", {"a": 1, "b": [1, 2]}, result)
    assert guard.check("T", {"b": [1, 2], "a": 1}) == (Repeat.REUSE, result)
    assert guard.check("T", {"a": 1, "b": [1, 2]})[0] is Repeat.BREAK
    assert guard.check("T", {"a": 2, "b": [1, 2]})[0] is Repeat.NEW
    assert guard.check("U", {"a": 1, "b": [1, 2]})[0] is Repeat.NEW


# -- context bound ---------------------------------------------------------------------------


def test_large_result_is_truncated_with_a_visible_marker() -> None:
    text, truncated = render_result("x" * 5411, 300)
    assert truncated and text.endswith("showing 300 of 5411 characters]")
    assert render_result({"a": 1}, 300) == ('{"a": 1}', False)


def test_long_list_keeps_whole_items_and_valid_json() -> None:
    text, truncated = render_result({"items": ["x" * 50] * 100, "next": "t"}, 300)
    data = json.loads(text)
    assert truncated and len(text) <= 300
    assert data["next"] == "t" and 0 < len(data["items"]) < 100
    assert data["_lucy_truncated"].startswith(
        f"truncated by Lucy: showing the first {len(data['items'])} of 100 items"
    )


def test_oldest_tool_results_are_compacted_first() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "old question"},
        {"role": "tool", "tool_call_id": "a", "content": "A" * 4000, "tool_name": "FIRST"},
        {"role": "tool", "tool_call_id": "b", "content": "B" * 4000, "tool_name": "SECOND"},
        {"role": "user", "content": "latest question"},
    ]
    shrunk = fit_prompt(messages, [], 1500)
    assert shrunk == 1
    assert messages[2]["content"] == COMPACTED_MARKER.format(name="FIRST", chars=4000)
    assert messages[3]["content"] == "B" * 4000
    assert prompt_tokens(messages, []) <= 1500
    assert all("tool_name" not in m and "compacted" not in m for m in wire_messages(messages))


def test_old_turns_go_when_compaction_is_not_enough() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "U" * 8000},
        {"role": "assistant", "content": "A" * 8000},
        {"role": "user", "content": "latest question"},
    ]
    fit_prompt(messages, [], 500)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[-1]["content"] == "latest question"


# -- completeness signals --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["That's all for this week.", "Here are all your events:", "There are no other meetings."],
)
def test_completeness_claims_are_recognised(text: str) -> None:
    assert claims_completeness(text)


def test_plain_answers_are_not_claims() -> None:
    assert not claims_completeness("You have three meetings on Monday.")


@pytest.mark.parametrize(
    ("data", "arguments", "reason"),
    [
        ({"items": [1], "nextPageToken": "t"}, {}, "nextPageToken"),
        ({"nodes": [1], "pageInfo": {"hasNextPage": True}}, {}, "hasNextPage"),
        ({"items": [1], "has_more": True}, {}, "has_more"),
        ({"issues": [1], "isLast": False}, {}, "isLast"),
        ({"total_count": 9, "items": [1, 2]}, {}, "total_count is 9"),
        ({"messages": {"matches": [1], "paging": {"page": 1, "pages": 3}}}, {}, "page 1 of 3"),
        ({"items": [1, 2, 3]}, {"max_results": 3}, "exactly the requested limit"),
        ({"value": [1], "@odata.nextLink": "x?$skip=10"}, {}, "nextLink"),
    ],
)
def test_signals_that_more_exist(data: Any, arguments: dict[str, Any], reason: str) -> None:
    found = more_available(data, arguments, truncated=False)
    assert found is not None and reason in found


def test_no_signal_on_a_last_page() -> None:
    assert more_available({"items": [1, 2, 3]}, {"max_results": 5}, truncated=False) is None
    assert (
        more_available({"items": [1, 2], "has_more": False}, {"per_page": 2}, truncated=False)
        is None
    )
    assert (
        more_available(
            {"total_count": 12, "items": [1, 2]}, {"page": 6, "per_page": 2}, truncated=False
        )
        is None
    )
    assert more_available({"a": 1}, {}, truncated=True) == "Lucy truncated the result"


def test_a_full_last_page_of_a_token_paged_tool_is_the_end() -> None:
    page = {"items": [1, 2, 3]}  # no nextPageToken
    assert more_available(page, {"max_results": 3}, truncated=False) is not None
    params = {"max_results", "page_token"}
    assert more_available(page, {"max_results": 3}, truncated=False, parameters=params) is None
    more = {**page, "nextPageToken": "t"}
    assert more_available(more, {"max_results": 3}, truncated=False, parameters=params)


def test_next_page_arguments_follow_each_style() -> None:
    assert next_page_arguments({"nextPageToken": "t"}, {"q": "x"}, {"q", "page_token"}) == {
        "q": "x",
        "page_token": "t",
    }
    assert next_page_arguments(
        {"pageInfo": {"hasNextPage": True, "endCursor": "c"}}, {}, {"after", "first"}
    ) == {"after": "c"}
    assert next_page_arguments(
        {"@odata.nextLink": "https://x/y?$top=10&$skip=20"}, {"top": 10}, {"top", "skip"}
    ) == {"top": 10, "skip": 20}
    assert next_page_arguments({"has_more": True}, {"page": 2}, {"page"}) == {"page": 3}
    assert next_page_arguments({"nextPageToken": "t"}, {}, {"q"}) is None


def test_qualify_adds_unlisted_items_and_unfinished_listings() -> None:
    chains = Chains()
    page = {"items": [{"summary": "Standup"}, {"summary": "Retro"}], "nextPageToken": "t"}
    chains.add("CAL_LIST", {"max_results": 2}, page, False, {"max_results", "page_token"})
    assert chains.pending() == [("CAL_LIST", {"max_results": 2, "page_token": "t"})]
    text = qualify("That's all: Standup.", chains)
    assert "- Retro" in text and "may be partial" in text
    chains.add(
        "CAL_LIST",
        {"max_results": 2, "page_token": "t"},
        {"items": [{"summary": "Demo"}]},
        False,
        {"max_results", "page_token"},
    )
    assert chains.pending() == []
    assert qualify("That's all: Standup, Retro, Demo.", chains) == (
        "That's all: Standup, Retro, Demo."
    )


# -- replies ---------------------------------------------------------------------------------


def test_fallback_summary_names_results_and_failures() -> None:
    ok = ToolResult(call_id="1", slug="CAL_LIST", data={"items": [{"summary": "Standup"}]})
    failed = ToolResult(
        call_id="2",
        slug="GITHUB_LIST_ISSUES",
        error=ToolError(kind=ToolErrorKind.TIMEOUT, message="no answer in 10 s"),
    )
    text = summarize_results([ok, failed], "the model gave no answer")
    assert "the model gave no answer" in text
    assert "Standup" in text and "GITHUB_LIST_ISSUES" in text and "too long" in text
    assert summarize_results([], "x").strip()


def test_slack_format() -> None:
    md = "# Plan\n**Bold** and [docs](https://example.org/a) & <b>\n- one\n```\n**code**\n```"
    assert to_slack(md) == (
        "*Plan*\n*Bold* and <https://example.org/a|docs> &amp; &lt;b&gt;\n• one\n```\n**code**\n```"
    )


# -- connection required, prompts ------------------------------------------------------------


def _missing(toolkit: str, name: str, reason: str) -> MissingConnection:
    return MissingConnection(toolkit=toolkit, name=name, score=1.0, example_tools=[], reason=reason)


def _result(candidates: list[Candidate], missing: list[MissingConnection]) -> RetrievalResult:
    return RetrievalResult(
        candidates=candidates,
        missing_connections=missing,
        index_version="v",
        intents=[],
        timings=RetrievalTimings(),
    )


def test_a_named_unconnected_toolkit_needs_a_connection() -> None:
    linear = _missing("linear", "Linear", "named in the request")
    jira = candidate("JIRA_CREATE_ISSUE", "jira")  # similar, but the request named Linear
    assert needs_connection(_result([jira], [linear]), 0.3) == [linear]


def test_a_fitting_part_lets_the_loop_run() -> None:
    linear = _missing("linear", "Linear", "named in the request")
    slack = candidate("SLACK_SEND_MESSAGE", "slack").model_copy(
        update={"matched_intent": "ping #eng about it"}
    )
    linear_part = candidate("JIRA_CREATE_ISSUE", "jira").model_copy(
        update={"matched_intent": "file a bug in Linear"}
    )
    assert needs_connection(_result([linear_part, slack], [linear]), 0.3) == []
    assert needs_connection(_result([linear_part], [linear]), 0.3) == [linear]


def test_weak_connected_candidates_do_not_fit() -> None:
    better = _missing("zoom", "Zoom", "fits better than any connected tool")
    weak = candidate("SLACK_SEND_MESSAGE", "slack").model_copy(update={"similarity": 0.1})
    assert needs_connection(_result([weak], [better]), 0.3) == [better]
    strong = weak.model_copy(update={"similarity": 0.5})
    assert needs_connection(_result([strong], [better]), 0.3) == []
    assert needs_connection(_result([weak], []), 0.3) == []


def test_connection_reply_names_the_toolkit_and_how() -> None:
    linear = _missing("linear", "Linear", "named in the request")
    text = connection_required([linear], "T1", {})
    assert "Linear" in text and "lucy connections connect T1 linear" in text
    assert "POST /v1/workspaces/T1/connections" in text
    linked = connection_required([linear], "T1", {"linear": "https://lucy.example/c/T1/linear"})
    assert "https://lucy.example/c/T1/linear" in linked
    assert "lucy connections connect" not in linked


def test_request_query_joins_a_short_follow_up() -> None:
    thread = [
        {"role": "user", "content": "what's on my calendar this week?"},
        {"role": "assistant", "content": "Three meetings."},
        {"role": "user", "content": "and next week?"},
    ]
    assert request_query(thread) == "what's on my calendar this week? and next week?"
    assert request_query(thread[:1]) == "what's on my calendar this week?"
    assert request_query([{"role": "assistant", "content": "hi"}]) == ""


def test_opening_messages_date_the_prompt_and_name_missing_toolkits() -> None:
    now = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    thread = [{"role": "user", "content": "hi"}]
    linear = _missing("linear", "Linear", "named in the request")
    messages = opening_messages(thread, [linear], now)
    assert "2026-11-24T09:30+00:00 (Tuesday" in messages[0]["content"]
    assert "Not connected in this workspace: Linear (linear)" in messages[0]["content"]
    assert messages[1:] == thread
