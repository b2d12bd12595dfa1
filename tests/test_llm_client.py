"""``OpenAIChat``: the real ``openai`` client against the scripted double: answers, Lucy's own
retries (429 after Retry-After, 5xx), timeouts, and what it refuses to start without."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import openai
import pytest

from lucy.errors import ConfigurationError, LLMError
from lucy.planner.llm import LLMTurn, OpenAIChat
from lucy.settings import Settings
from lucy.testing import Call, Fail, ScriptedLLM, Slow, Text, ToolCalls, Turn

MESSAGES = [{"role": "user", "content": "hi"}]
TOOL = {
    "type": "function",
    "function": {"name": "LOOKUP", "parameters": {"type": "object", "properties": {}}},
}


def complete(
    turns: Sequence[Turn], *, retries: int, timeout: float = 5.0
) -> tuple[LLMTurn | LLMError, ScriptedLLM]:
    with ScriptedLLM(turns) as llm:

        async def go() -> LLMTurn | LLMError:
            async with openai.AsyncOpenAI(
                base_url=llm.base_url, api_key="k", max_retries=0
            ) as client:
                chat = OpenAIChat(client, llm.model, max_retries=retries)
                try:
                    return await chat.complete(MESSAGES, [TOOL], timeout=timeout)
                except LLMError as exc:
                    return exc

        return asyncio.run(go()), llm


def test_text_and_tool_calls_come_back_typed() -> None:
    turn, llm = complete([ToolCalls([Call("LOOKUP", '{"a": ')], content="let me check")], retries=0)
    assert isinstance(turn, LLMTurn)
    assert turn.content == "let me check"
    assert [(c.name, c.arguments) for c in turn.tool_calls] == [("LOOKUP", '{"a": ')]
    assert llm.offered_tools(0) == ["LOOKUP"]
    turn, _ = complete([Text("hello")], retries=0)
    assert isinstance(turn, LLMTurn) and turn.content == "hello" and turn.tool_calls == []


def test_rate_limit_is_retried_after_retry_after() -> None:
    turn, llm = complete([Fail(429, "slow down", retry_after=0), Text("ok")], retries=1)
    assert isinstance(turn, LLMTurn) and turn.content == "ok"
    assert len(llm.requests) == 2


def test_server_errors_beyond_the_retries_raise_llm_error() -> None:
    error, llm = complete([Fail(500, "boom"), Fail(503, "still down"), Text("late")], retries=1)
    assert isinstance(error, LLMError)
    assert "HTTP 503" in str(error)
    assert len(llm.requests) == 2


def test_client_errors_are_not_retried() -> None:
    error, llm = complete([Fail(400, "bad tools"), Text("never")], retries=3)
    assert isinstance(error, LLMError) and "HTTP 400" in str(error)
    assert len(llm.requests) == 1


def test_a_slow_endpoint_times_out_as_llm_error() -> None:
    error, _ = complete([Slow(1.0, Text("too late"))], retries=0, timeout=0.1)
    assert isinstance(error, LLMError) and "timed out" in str(error)


def test_from_settings_needs_base_url_and_model() -> None:
    with pytest.raises(ConfigurationError, match="LUCY_LLM_BASE_URL"):
        OpenAIChat.from_settings(Settings(llm_base_url="http://127.0.0.1:9/v1"))
