"""The loop's contract under any model behaviour (Hypothesis): for any scripted sequence of
LLM turns, it ends within its budget, returns non-empty text, and never executes an unknown,
unconnected or malformed call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lucy.capability_index.service import CapabilityIndex
from lucy.planner.guards import schema_problems
from lucy.testing import Call, Empty, Fail, ScriptedLLM, Slow, Text, ToolCalls, Turn
from tests.planner_kit import ask

WORKSPACE = "ws-planner-property"
CONNECTED = ["googlecalendar", "github", "slack"]
QUESTION = "what's on my calendar this week, and which github issues are open in acme/web?"
MAX_STEPS, MAX_CALLS, MAX_OFFERED = 5, 6, 7

CALLS = [
    Call("GOOGLECALENDAR_LIST_EVENTS", {}),
    Call("GOOGLECALENDAR_LIST_EVENTS", {"max_results": 3}),
    Call("GITHUB_LIST_ISSUES", {"owner": "acme", "repo": "web", "state": "open"}),
    Call("GOOGLECALENDAR_LIST_EVENTS", '{"max_results": '),  # not JSON
    Call("GOOGLECALENDAR_LIST_EVENTS", "[1, 2]"),  # not an object
    Call("GOOGLECALENDAR_LIST_EVENTS", {"max_results": "ten"}),  # schema violation
    Call("GITHUB_LIST_ISSUES", {"state": "open"}),  # required owner/repo missing
    Call("LINEAR_LIST_ISSUES", {}),  # a real tool of an unconnected toolkit
    Call("JIRA_SEARCH_ISSUES", {"jql": "status = Open"}),  # unconnected too
    Call("MADE_UP_TOOL", {}),  # no such tool
    Call("find_tools", {"query": "search slack messages"}),
    Call("find_tools", {}),  # malformed meta-tool call
]

call = st.sampled_from(CALLS)
simple_turn: st.SearchStrategy[Turn] = st.one_of(
    st.builds(ToolCalls, st.lists(call, min_size=1, max_size=3)),
    st.sampled_from(
        [
            Text("Here is what I found."),
            Text("That's all your events."),
            Text(""),
            Empty(),
            Fail(500, "boom"),
            Fail(429, "slow down", retry_after=0),
            Fail(400, "bad request"),
        ]
    ),
)
turn = st.one_of(simple_turn, st.builds(Slow, st.just(0.01), simple_turn))


@pytest.fixture(scope="module")
def script_holder() -> Iterator[tuple[ScriptedLLM, list[Turn]]]:
    script: list[Turn] = []

    def play(_: dict[str, Any]) -> Turn:
        return script.pop(0) if script else Empty()

    with ScriptedLLM(play) as llm:
        yield llm, script


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(turns=st.lists(turn, max_size=10))
def test_loop_ends_in_budget_with_text_and_runs_only_valid_calls(
    demo_index: CapabilityIndex,
    script_holder: tuple[ScriptedLLM, list[Turn]],
    turns: list[Turn],
) -> None:
    llm, script = script_holder
    demo_index.connect(WORKSPACE, CONNECTED)
    script[:] = list(turns)
    before = len(llm.requests)
    result, executor = ask(
        demo_index,
        llm,
        QUESTION,
        workspace_id=WORKSPACE,
        max_llm_steps=MAX_STEPS,
        max_tool_calls=MAX_CALLS,
        max_offered_tools=MAX_OFFERED,
    )
    assert result.text.strip()
    assert len(llm.requests) - before <= MAX_STEPS
    assert result.trace.llm_steps <= MAX_STEPS
    assert len(executor.executed) == result.trace.tool_calls <= MAX_CALLS
    for i in range(before, len(llm.requests)):
        assert len(llm.offered_tools(i)) <= MAX_OFFERED + 1  # the cap, plus find_tools
    offered = {t.slug for t in result.trace.offered}
    assert len(offered) <= MAX_OFFERED
    for tool, arguments in executor.executed:
        assert tool.slug in offered
        assert tool.toolkit in CONNECTED
        assert schema_problems(tool.parameters, arguments) == []
