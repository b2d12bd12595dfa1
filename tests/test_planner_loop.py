"""The tool loop end to end: the real ``openai`` client against the scripted double, the real
demo index, the real executor and demo provider."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lucy.capability_index.service import CapabilityIndex
from lucy.models import ToolError, ToolErrorKind, ToolResult
from lucy.providers.demo import DemoProvider, generate_demo_data
from lucy.testing import Call, Empty, Fail, Repeat, ScriptedLLM, Text, ToolCalls
from tests.planner_kit import ask, tool_messages

CALENDAR = "GOOGLECALENDAR_LIST_EVENTS"
WEEK_QUESTION = "what's on my calendar this week?"


def test_repeated_tool_call_is_reused_then_breaks_the_loop(demo_index: CapabilityIndex) -> None:
    same = ToolCalls([Call(CALENDAR, {"max_results": 5})])
    with ScriptedLLM([Repeat(same, 3), Text("Here is your week.")]) as llm:
        result, executor = ask(demo_index, llm, WEEK_QUESTION)
    assert len(executor.executed) == 1  # the second call reused the result, the third broke
    calls = [c for c in result.trace.calls if c.slug == CALENDAR]
    assert [c.reused for c in calls] == [False, True, False]
    assert calls[2].error is not None and calls[2].error.kind is ToolErrorKind.LOOP_DETECTED
    assert "already made this exact call" in tool_messages(llm.requests[2])[-1]
    assert result.flags.loop_broken
    assert llm.requests[-1].get("tools") is None  # the finalization call offers no tools
    assert result.text == "Here is your week."


def test_unknown_tool_is_never_executed_and_widens_the_offer(demo_index: CapabilityIndex) -> None:
    turns = [ToolCalls([Call("CALENDAR_WIPE_ALL", {})]), Text("I can't do that.")]
    with ScriptedLLM(turns) as llm:
        result, executor = ask(demo_index, llm, WEEK_QUESTION)
    assert executor.executed == []
    error = result.trace.errors[0]
    assert error.kind is ToolErrorKind.UNKNOWN_TOOL
    message = json.loads(tool_messages(llm.requests[1])[0])
    assert message["error"] == "unknown_tool" and CALENDAR in message["valid_tools"]
    assert 2 in result.trace.stages
    stage2 = {t.slug for t in result.trace.offered if t.stage == 2}
    assert stage2 and stage2 <= set(llm.offered_tools(1))
    assert len(llm.offered_tools(1)) <= 12 + 1  # the cap, plus find_tools
    assert result.text == "I can't do that."


def test_parse_error_goes_back_to_the_model(demo_index: CapabilityIndex) -> None:
    turns = [ToolCalls([Call(CALENDAR, '{"max_results": ')]), Text("Sorry, retrying failed.")]
    with ScriptedLLM(turns) as llm:
        result, executor = ask(demo_index, llm, WEEK_QUESTION)
    assert executor.executed == []
    message = json.loads(tool_messages(llm.requests[1])[0])
    assert message["error"] == "parse_error"
    assert "Expecting value" in message["message"]
    assert result.trace.errors[0].kind is ToolErrorKind.PARSE_ERROR


def test_schema_violation_goes_back_with_paths(demo_index: CapabilityIndex) -> None:
    turns = [ToolCalls([Call(CALENDAR, {"max_results": "ten"})]), Text("Sorry.")]
    with ScriptedLLM(turns) as llm:
        _, executor = ask(demo_index, llm, WEEK_QUESTION)
    assert executor.executed == []
    message = json.loads(tool_messages(llm.requests[1])[0])
    assert message["error"] == "invalid_arguments"
    assert any(p.startswith("$.max_results:") for p in message["problems"])


def test_no_text_gets_one_finalization_call_then_a_deterministic_reply(
    demo_index: CapabilityIndex,
) -> None:
    turns = [ToolCalls([Call(CALENDAR, {"max_results": 3})]), Empty(), Text("")]
    with ScriptedLLM(turns) as llm:
        result, executor = ask(demo_index, llm, WEEK_QUESTION)
    assert len(llm.requests) == 3  # plan, empty answer, one tool-less finalization
    assert llm.requests[2].get("tools") is None
    assert result.flags.fallback_used
    assert result.text.strip()
    assert CALENDAR in result.text and "no answer" in result.text
    assert len(executor.executed) == 1


def test_llm_failure_still_ends_in_a_reply(demo_index: CapabilityIndex) -> None:
    with ScriptedLLM([Fail(500, "upstream exploded")]) as llm:
        result, _ = ask(demo_index, llm, WEEK_QUESTION)
    assert len(llm.requests) == 1  # no finalization call against a failing endpoint
    assert result.flags.fallback_used
    assert "could not be reached" in result.text


def test_missing_connection_answers_without_the_llm(demo_index: CapabilityIndex) -> None:
    demo_index.connect("ws-planner-slack-only", ["slack"])
    with ScriptedLLM([Text("should not be used")]) as llm:
        result, executor = ask(
            demo_index,
            llm,
            "open a bug in linear for the login crash",
            workspace_id="ws-planner-slack-only",
        )
    assert llm.requests == []
    assert executor.executed == []
    assert result.flags.connection_required
    assert "Linear" in result.text and "lucy connections connect ws-planner-slack-only linear" in (
        result.text
    )


def test_budget_bounds_a_model_that_never_stops(demo_index: CapabilityIndex) -> None:
    def script(request: dict[str, object]) -> ToolCalls:
        n = len(request["messages"])  # type: ignore[arg-type]
        return ToolCalls([Call(CALENDAR, {"max_results": 1 + n % 50, "q": str(n)})])

    with ScriptedLLM(script) as llm:
        result, executor = ask(demo_index, llm, WEEK_QUESTION, max_llm_steps=4, max_tool_calls=10)
    assert result.trace.llm_steps <= 4
    assert len(executor.executed) <= 3
    assert result.flags.budget_exhausted and result.flags.fallback_used
    assert result.text.strip()


def _week_events(provider: DemoProvider) -> list[str]:
    start = provider.data.week_start
    end = start + timedelta(days=7)
    return [e.summary for e in provider.data.events if e.end > start and e.start < end]


def _first_page_then_all(request: dict[str, object]) -> Text | ToolCalls:
    """A model that lists the week, stops after the first page and says that is all."""
    messages = request["messages"]
    assert isinstance(messages, list)
    tools = [m for m in messages if m["role"] == "tool"]
    if not tools:
        monday = datetime.now(UTC).date() - timedelta(days=datetime.now(UTC).weekday())
        args = {
            "time_min": f"{monday}T00:00:00Z",
            "time_max": f"{monday + timedelta(days=7)}T00:00:00Z",
            "single_events": True,
            "order_by": "startTime",
        }
        return ToolCalls([Call(CALENDAR, args)])
    first = json.loads(tools[0]["content"])  # a whole page (12 kB limit) or whole items
    names = ", ".join(item["summary"] for item in first["items"])
    return Text(f"Here are all your events this week: {names}. That's all.")


@pytest.mark.parametrize("gate_pages", [5, 0])
def test_week_schedule_is_complete_or_says_it_may_be_partial(
    demo_index: CapabilityIndex, gate_pages: int
) -> None:
    provider = DemoProvider(generate_demo_data(seed=0))
    week = _week_events(provider)
    assert len(week) > provider.page_size_cap  # the week spans several pages
    with ScriptedLLM(_first_page_then_all) as llm:
        result, _ = ask(
            demo_index, llm, WEEK_QUESTION, provider=provider, max_gate_pages=gate_pages
        )
    text = result.text
    listed_all = all(summary in text for summary in week)
    assert listed_all or "may be partial" in text
    assert result.flags.completeness_qualified
    if gate_pages:
        assert listed_all  # the gate fetched every page; unlisted events were added
        assert any(c.source == "gate" for c in result.trace.calls)
    else:
        assert "may be partial" in text and "nextPageToken" in text
        assert text.count("may be partial") == 1  # one plain sentence, not one per reason


class _BrokenExecutor:
    """Breaks the executor's contract (it must return a ToolResult, never raise)."""

    async def run(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("bug in a provider adapter")


def test_an_internal_error_still_ends_in_an_honest_reply(demo_index: CapabilityIndex) -> None:
    turns = [ToolCalls([Call(CALENDAR, {"max_results": 3})]), Text("never reached")]
    with ScriptedLLM(turns) as llm:
        result, _ = ask(demo_index, llm, WEEK_QUESTION, inner=_BrokenExecutor())
    assert result.flags.fallback_used
    assert "internal error" in result.text
    assert result.trace.steps[-1].detail == "internal error: RuntimeError"


def test_find_tools_adds_stage_two_candidates(demo_index: CapabilityIndex) -> None:
    turns = [
        ToolCalls([Call("find_tools", {"query": "search slack messages about the outage"})]),
        ToolCalls([Call("SLACK_SEARCH_MESSAGES", {"query": "outage"})]),
        Text("Found the outage thread."),
    ]
    with ScriptedLLM(turns) as llm:
        result, executor = ask(demo_index, llm, WEEK_QUESTION)
    assert "SLACK_SEARCH_MESSAGES" not in llm.offered_tools(0)
    assert "SLACK_SEARCH_MESSAGES" in llm.offered_tools(1)
    found = json.loads(tool_messages(llm.requests[1])[0])
    assert "SLACK_SEARCH_MESSAGES" in found["added_tools"]
    assert [t.slug for t, _ in executor.executed] == ["SLACK_SEARCH_MESSAGES"]
    call = next(c for c in result.trace.calls if c.slug == "SLACK_SEARCH_MESSAGES")
    assert call.stage == 2 and call.ok
    assert result.trace.stages == [1, 2]


def test_large_results_reach_the_model_truncated(demo_index: CapabilityIndex) -> None:
    turns = [ToolCalls([Call(CALENDAR, {"max_results": 10})]), Text("Several events.")]
    with ScriptedLLM(turns) as llm:
        ask(demo_index, llm, WEEK_QUESTION, max_result_chars=2000)
    content = tool_messages(llm.requests[1])[0]
    assert len(content) <= 2000
    page = json.loads(content)
    assert page["_lucy_truncated"].startswith("truncated by Lucy: showing the first ")


def test_provider_errors_go_back_to_the_model_as_structured_results(
    demo_index: CapabilityIndex,
) -> None:
    turns = [ToolCalls([Call(CALENDAR, {"page_token": "not-a-token"})]), Text("That failed.")]
    with ScriptedLLM(turns) as llm:
        result, executor = ask(demo_index, llm, WEEK_QUESTION)
    assert len(executor.executed) == 1
    message = json.loads(tool_messages(llm.requests[1])[0])
    assert message["error"] == "provider_error"
    assert result.trace.errors[0].kind is ToolErrorKind.PROVIDER_ERROR
    assert result.text == "That failed."


def test_write_tools_the_demo_provider_cannot_run_are_reported(
    demo_index: CapabilityIndex,
) -> None:
    args = {"team_id": "t1", "title": "Login crash"}
    turns = [ToolCalls([Call("LINEAR_CREATE_ISSUE", args)]), Empty(), Empty()]
    with ScriptedLLM(turns) as llm:
        result, _ = ask(demo_index, llm, "open a bug in linear for the login crash")
    assert "LINEAR_CREATE_ISSUE" in llm.offered_tools(0)
    call = result.trace.calls[0]
    assert not call.ok and not call.executed
    assert call.error is not None and call.error.kind is ToolErrorKind.EXECUTION_ERROR
    assert "LINEAR_CREATE_ISSUE" in result.text and "failed" in result.text


def test_a_named_missing_toolkit_is_mentioned_when_other_parts_run(
    demo_index: CapabilityIndex,
) -> None:
    demo_index.connect("ws-planner-no-linear", ["slack", "googlecalendar"])
    turns = [Text("I posted nothing yet; here is your calendar.")]
    with ScriptedLLM(turns) as llm:
        result, _ = ask(
            demo_index,
            llm,
            "file a bug in linear for the crash and tell me what's on my calendar today",
            workspace_id="ws-planner-no-linear",
        )
    assert len(llm.requests) == 1  # the calendar part fits a connected tool: the loop ran
    assert "Linear" in llm.requests[0]["messages"][0]["content"]  # the model was told
    assert result.flags.connection_required
    assert "Not connected in this workspace: Linear" in result.text


def test_a_very_long_message_and_find_tools_query_are_not_refused(
    demo_index: CapabilityIndex,
) -> None:
    pasted = WEEK_QUESTION + " " + "stack trace line " * 600  # ~10,000 characters
    turns = [ToolCalls([Call("find_tools", {"query": "calendar " * 800})]), Text("Done.")]
    with ScriptedLLM(turns) as llm:
        result, _ = ask(demo_index, llm, pasted)
    assert result.text == "Done."
    assert len(llm.requests) == 2


def test_low_retrieval_confidence_widens_before_the_first_llm_call(
    demo_index: CapabilityIndex,
) -> None:
    with ScriptedLLM([Text("I am not sure what you mean.")]) as llm:
        result, _ = ask(demo_index, llm, "zqx vorp blen", stage2_min_similarity=0.99)
    assert result.trace.stages == [1, 2]
    assert any(s.kind == "stage2" and "low confidence" in s.detail for s in result.trace.steps)
    stage2 = [t.slug for t in result.trace.offered if t.stage == 2]
    assert stage2 and set(stage2) <= set(llm.offered_tools(0))
    assert len(llm.offered_tools(0)) <= 12 + 1


class _OverlapExecutor:
    """Answers at once but notes how many runs overlapped, and in which order they began."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.order: list[str] = []

    async def run(self, tool: Any, arguments: Any, context: Any, *, call_id: str) -> ToolResult:
        self.order.append(tool.slug)
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.01)  # yield, so concurrent runs overlap
        self.running -= 1
        return ToolResult(call_id=call_id, slug=tool.slug, data={"items": []}, attempts=1)


ISSUES = "GITHUB_LIST_ISSUES"
ISSUE_ARGS = {"owner": "acme", "repo": "web"}
TWO_QUESTION = "list my calendar events this week and the open github issues in acme/web"


def test_read_only_calls_of_one_turn_run_together(demo_index: CapabilityIndex) -> None:
    turns = [
        ToolCalls([Call(CALENDAR, {"max_results": 3}), Call(ISSUES, ISSUE_ARGS)]),
        Text("Both listed."),
    ]
    overlap = _OverlapExecutor()
    with ScriptedLLM(turns) as llm:
        result, _ = ask(demo_index, llm, TWO_QUESTION, inner=overlap)
    assert {CALENDAR, ISSUES} <= set(llm.offered_tools(0))
    assert overlap.most == 2
    # answered in the model's order, whatever finished first
    assert [c.slug for c in result.trace.calls] == [CALENDAR, ISSUES]
    ids = [m["tool_call_id"] for m in llm.requests[1]["messages"] if m["role"] == "tool"]
    assert ids == [c.id for c in result.trace.calls]


def test_a_turn_with_a_write_runs_in_the_models_order(demo_index: CapabilityIndex) -> None:
    create = Call("LINEAR_CREATE_ISSUE", {"team_id": "t", "title": "Login crash"})
    read = Call("LINEAR_GET_ISSUE", {"id": "ENG-1"})
    turns = [ToolCalls([create, read]), Text("Filed it and read ENG-1.")]
    overlap = _OverlapExecutor()
    with ScriptedLLM(turns) as llm:
        ask(demo_index, llm, "open a bug in linear for the login crash", inner=overlap)
    assert {"LINEAR_CREATE_ISSUE", "LINEAR_GET_ISSUE"} <= set(llm.offered_tools(0))
    assert overlap.order == ["LINEAR_CREATE_ISSUE", "LINEAR_GET_ISSUE"]
    assert overlap.most == 1


def test_the_same_call_twice_in_one_turn_runs_once(demo_index: CapabilityIndex) -> None:
    same = Call(CALENDAR, {"max_results": 3})
    again = Call(CALENDAR, '{ "max_results" : 3 }')  # same call, other spelling
    with ScriptedLLM([ToolCalls([same, again]), Text("Listed.")]) as llm:
        result, executor = ask(demo_index, llm, WEEK_QUESTION)
    assert len(executor.executed) == 1
    first, second = result.trace.calls
    assert first.executed and not first.reused
    assert second.reused and not second.executed and second.ok
    reused = json.loads(tool_messages(llm.requests[1])[1])
    assert reused["note"].startswith("You already made this exact call")
    assert reused["result"] == json.loads(tool_messages(llm.requests[1])[0])


def test_a_refused_credential_makes_the_workspaces_connections_read_afresh(
    demo_index: CapabilityIndex,
) -> None:
    """A provider's auth error means the cached connection state may be stale (an auth event
    that never arrived): the planner has the index forget it."""

    class Refusing:
        async def run(self, tool, arguments, context, *, call_id):
            error = ToolError(kind=ToolErrorKind.AUTH, message="token revoked")
            return ToolResult(call_id=call_id, slug=tool.slug, error=error, attempts=1)

    class Spy:
        def __init__(self, inner: CapabilityIndex) -> None:
            self.inner = inner
            self.forgotten: list[str] = []

        def invalidate_connections(self, workspace_id: str) -> None:
            self.forgotten.append(workspace_id)
            self.inner.invalidate_connections(workspace_id)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    spy = Spy(demo_index)
    turns = [ToolCalls([Call(CALENDAR, {"max_results": 5})]), Text("Reconnect Calendar.")]
    with ScriptedLLM(turns) as llm:
        result, _ = ask(spy, llm, WEEK_QUESTION, inner=Refusing())  # type: ignore[arg-type]
    assert result.trace.errors[0].kind is ToolErrorKind.AUTH
    assert spy.forgotten == ["demo"]


def test_a_connection_the_cache_missed_is_found_before_asking_to_connect(
    demo_index: CapabilityIndex,
) -> None:
    """Linear was connected behind the cache's back (its auth event never came): the planner
    checks the source before replying "connect Linear", and runs the request instead."""
    workspace = "ws-planner-missed-event"
    demo_index.connect(workspace, ["slack"])
    assert "linear" not in demo_index.connected(workspace)  # cached now
    demo_index.connections.local._inner.connect(workspace, ["linear"])  # the store alone
    assert "linear" not in demo_index.connected(workspace)  # the cache has not heard
    turns = [ToolCalls([Call("LINEAR_CREATE_ISSUE", {"title": "login crash"})]), Text("Filed.")]
    with ScriptedLLM(turns) as llm:
        result, _ = ask(
            demo_index, llm, "open a bug in linear for the login crash", workspace_id=workspace
        )
    assert not result.flags.connection_required
    assert llm.requests  # the model was asked: the request went on
    assert "linear" in demo_index.connected(workspace)
