"""A write is never repeated when its first request may have reached the provider, unless the
provider takes an idempotency key; the outcome is then said to be unknown, in the error, the
trace flags and the reply."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from lucy.models import ToolError, ToolResult
from lucy.planner.replies import outcome_unknown
from lucy.providers.base import CallContext, ProviderCallError
from lucy.providers.resilience import ResiliencePolicy, TimeoutPolicy, ToolExecutor
from tests.test_resilience import READ, WRITE, FakeClock, K, ScriptedProvider, run, unavailable


class KeyedProvider(ScriptedProvider):
    """Sends the idempotency key upstream; records the key of every attempt."""

    accepts_idempotency_key = True

    def __init__(self, *script: Any, clock: FakeClock | None = None) -> None:
        super().__init__(*script, clock=clock)
        self.keys: list[str | None] = []

    async def execute(self, tool: Any, arguments: dict[str, Any], context: CallContext) -> Any:
        self.keys.append(context.idempotency_key)
        return await super().execute(tool, arguments, context)


def executor(provider: ScriptedProvider, clock: FakeClock) -> ToolExecutor:
    return ToolExecutor([provider], clock=clock, sleep=clock.sleep)


def test_a_write_that_got_a_5xx_is_attempted_once_and_its_outcome_is_unknown() -> None:
    clock = FakeClock()
    provider = ScriptedProvider(unavailable(), {"id": 1}, clock=clock)
    result = run(executor(provider, clock), WRITE, clock)
    assert len(provider.calls) == 1 and result.attempts == 1
    assert result.error is not None and result.error.kind is K.PROVIDER_UNAVAILABLE
    assert result.outcome_unknown
    assert "unknown" in result.error.for_model()["note"]


def test_a_read_that_got_a_5xx_is_retried_and_its_outcome_is_known() -> None:
    clock = FakeClock()
    provider = ScriptedProvider(unavailable(), {"id": 1}, clock=clock)
    result = run(executor(provider, clock), READ, clock)
    assert result.ok and len(provider.calls) == 2 and not result.outcome_unknown


def test_a_write_whose_request_was_never_sent_is_retried() -> None:
    clock = FakeClock()
    refused = ProviderCallError(K.PROVIDER_UNAVAILABLE, "connection refused", sent=False)
    provider = ScriptedProvider(refused, {"id": 1}, clock=clock)
    result = run(executor(provider, clock), WRITE, clock)
    assert result.ok and result.data == {"id": 1} and len(provider.calls) == 2


def test_a_write_refused_every_time_is_a_known_failure() -> None:
    clock = FakeClock()
    refused = ProviderCallError(K.PROVIDER_UNAVAILABLE, "connection refused", sent=False)
    provider = ScriptedProvider(refused, refused, refused, clock=clock)
    result = run(executor(provider, clock), WRITE, clock)
    assert len(provider.calls) == 3 and not result.ok and not result.outcome_unknown


def test_a_write_that_timed_out_is_not_retried() -> None:
    provider = ScriptedProvider(hang=True)
    timed = ToolExecutor([provider], ResiliencePolicy(timeouts=TimeoutPolicy(default_seconds=0.05)))
    context = CallContext("W1", None, deadline=time.monotonic() + 30)
    result = asyncio.run(timed.run(WRITE, {}, context, call_id="c1"))
    assert len(provider.calls) == 1
    assert result.error is not None and result.error.kind is K.TIMEOUT and result.outcome_unknown


def test_a_keyed_provider_retries_a_write_with_the_same_key() -> None:
    clock = FakeClock()
    provider = KeyedProvider(unavailable(), unavailable(), {"id": 7}, clock=clock)
    result = run(executor(provider, clock), WRITE, clock)
    assert result.ok and result.data == {"id": 7}
    assert len(provider.keys) == 3 and len(set(provider.keys)) == 1
    assert provider.keys[0] is not None and provider.keys[0].startswith("lucy-")
    # a second logical call gets a key of its own
    again = KeyedProvider(clock=clock)
    run(executor(again, clock), WRITE, clock)
    assert again.keys[0] != provider.keys[0]


def test_a_keyed_write_that_keeps_failing_is_still_unknown() -> None:
    clock = FakeClock()
    provider = KeyedProvider(unavailable(), unavailable(), unavailable(), clock=clock)
    result = run(executor(provider, clock), WRITE, clock)
    assert len(provider.keys) == 3 and result.outcome_unknown


def test_reads_carry_no_idempotency_key() -> None:
    clock = FakeClock()
    provider = KeyedProvider(clock=clock)
    run(executor(provider, clock), READ, clock)
    assert provider.keys == [None]


def test_the_result_names_the_provider_that_ran_it() -> None:
    clock = FakeClock()
    result = run(executor(ScriptedProvider(clock=clock), clock), READ, clock)
    assert result.provider == "fake"


def test_the_reply_neither_claims_success_nor_failure() -> None:
    error = ToolError(kind=K.TIMEOUT, message="slow", details={"outcome_unknown": True})
    text = outcome_unknown([ToolResult(call_id="c", slug="LINEAR_CREATE_ISSUE", error=error)])
    assert "LINEAR_CREATE_ISSUE" in text and "could not confirm" in text
    assert "failed" not in text and "succeeded" not in text


class FlakyWriteProvider:
    """Answers every write with a 503 after the request went out (the write may have run)."""

    name = "flaky"
    accepts_idempotency_key = False

    def __init__(self) -> None:
        self.calls = 0

    def supports(self, tool: Any) -> bool:
        return not tool.read_only

    async def execute(self, tool: Any, arguments: dict[str, Any], context: CallContext) -> Any:
        self.calls += 1
        raise unavailable()


def test_the_planner_says_a_writes_outcome_is_unknown(demo_index) -> None:
    from lucy.testing import Call, ScriptedLLM, Text, ToolCalls
    from tests.planner_kit import ask

    provider = FlakyWriteProvider()
    args = {"team_id": "ENG", "title": "Login crash"}
    turns = [ToolCalls([Call("LINEAR_CREATE_ISSUE", args)]), Text("Created ENG-1 for you.")]
    with ScriptedLLM(turns) as llm:
        result, _ = ask(
            demo_index,
            llm,
            "open a bug in linear for the login crash",
            inner=ToolExecutor([provider]),
        )
        told = llm.requests[-1]["messages"][-1]["content"]
    assert provider.calls == 1
    assert result.flags.outcome_unknown
    call = result.trace.calls[0]
    assert call.error is not None and call.error.details["outcome_unknown"] is True
    assert "LINEAR_CREATE_ISSUE" in result.text and "could not confirm" in result.text
    assert "outcome_unknown" in told  # the model was told too
