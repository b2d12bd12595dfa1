"""The scripted OpenAI-compatible double, exercised through the real `openai` client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from lucy.testing import Call, Empty, Fail, Repeat, ScriptedLLM, Slow, Text, ToolCalls, Turn

MESSAGES: list[Any] = [{"role": "user", "content": "hi"}]


def tool(name: str) -> dict[str, Any]:
    """A function tool definition as the planner sends it."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"The {name} tool.",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }


def sync_client(llm: ScriptedLLM, **kwargs: Any) -> OpenAI:
    return OpenAI(base_url=llm.base_url, api_key="test-key", max_retries=0, **kwargs)


def async_client(llm: ScriptedLLM, **kwargs: Any) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=llm.base_url, api_key="test-key", max_retries=0, **kwargs)


def ask(llm: ScriptedLLM, content: str = "hi", **kwargs: Any) -> Any:
    """One non-streaming chat completion through a fresh sync client."""
    with sync_client(llm) as client:
        return client.chat.completions.create(
            model=kwargs.pop("model", "gpt-test"),
            messages=[{"role": "user", "content": content}],
            **kwargs,
        )


def test_text_turn_is_a_valid_chat_completion() -> None:
    with ScriptedLLM([Text("hello there")]) as llm:
        completion = ask(llm, model="my-model")
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "hello there"
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.object == "chat.completion"
    assert completion.model == "my-model"
    assert completion.usage is not None
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert completion.usage.prompt_tokens > 0


def test_tool_calls_with_dict_and_raw_string_arguments() -> None:
    turn = ToolCalls(
        [
            Call("search", {"q": "linear bug"}),
            Call("search", '{"q": '),
            Call("create_issue", "{}", id="call_fixed"),
        ],
        content="let me look",
    )
    with ScriptedLLM([turn]) as llm:
        completion = ask(llm, tools=[tool("search"), tool("create_issue")])
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "let me look"
    calls = choice.message.tool_calls
    assert calls is not None
    assert [c.type for c in calls] == ["function"] * 3
    assert [c.function.name for c in calls] == ["search", "search", "create_issue"]
    assert json.loads(calls[0].function.arguments) == {"q": "linear bug"}
    assert calls[1].function.arguments == '{"q": '  # malformed JSON arrives verbatim
    assert calls[2].id == "call_fixed"
    assert calls[0].id != calls[1].id
    assert calls[0].id.startswith("call_")


def test_unknown_tool_name_arrives_as_scripted() -> None:
    with ScriptedLLM([ToolCalls([Call("no_such_tool", {})])]) as llm:
        completion = ask(llm, tools=[tool("search")])
        assert llm.offered_tools() == ["search"]
    calls = completion.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].function.name == "no_such_tool"
    assert calls[0].function.arguments == "{}"


def test_empty_turn_and_empty_text() -> None:
    with ScriptedLLM([Empty(), Text("")]) as llm:
        empty, blank = ask(llm), ask(llm)
    assert empty.choices[0].message.content is None
    assert empty.choices[0].message.tool_calls is None
    assert empty.choices[0].finish_reason == "stop"
    assert blank.choices[0].message.content == ""
    assert blank.choices[0].message.tool_calls is None


def test_repeat_expands_into_copies() -> None:
    script: list[Turn] = [Repeat(ToolCalls([Call("search", {"q": "again"})]), 3), Text("gave up")]
    with ScriptedLLM(script) as llm:
        answers = [ask(llm) for _ in range(4)]
        assert not llm.exhausted
    ids = []
    for answer in answers[:3]:
        calls = answer.choices[0].message.tool_calls
        assert calls is not None
        assert calls[0].function.name == "search"
        assert json.loads(calls[0].function.arguments) == {"q": "again"}
        ids.append(calls[0].id)
    assert len(set(ids)) == 3
    assert answers[3].choices[0].message.content == "gave up"


def test_requests_are_recorded_with_offered_tools() -> None:
    with ScriptedLLM([Text("a"), Text("b")]) as llm:
        ask(llm, "first", tools=[tool("search"), tool("create_issue")], tool_choice="auto")
        ask(llm, "second", tools=[tool("send_email")], tool_choice="required")
        requests = list(llm.requests)
        assert llm.offered_tools(0) == ["search", "create_issue"]
        assert llm.offered_tools() == ["send_email"]
        assert llm.offered_tools(1) == ["send_email"]
    assert len(requests) == 2
    assert requests[0]["messages"] == [{"role": "user", "content": "first"}]
    assert requests[0]["tool_choice"] == "auto"
    assert requests[1]["tool_choice"] == "required"
    assert requests[1]["tools"][0]["function"]["description"] == "The send_email tool."
    assert requests[0]["model"] == "gpt-test"


def test_offered_tools_is_empty_without_tools() -> None:
    with ScriptedLLM([Text("a")]) as llm:
        ask(llm)
        assert llm.offered_tools() == []


def test_fail_429_raises_rate_limit_error_with_retry_after() -> None:
    with ScriptedLLM([Fail(429, "slow down", retry_after=2), Text("ok")]) as llm:
        with pytest.raises(openai.RateLimitError) as caught:
            ask(llm)
        assert ask(llm).choices[0].message.content == "ok"
        assert len(llm.requests) == 2  # the failed request was recorded too
    err = caught.value
    assert err.status_code == 429
    assert err.response.headers["retry-after"] == "2"
    assert "slow down" in err.message
    assert err.code == "rate_limit_exceeded"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
        (401, openai.AuthenticationError),
        (400, openai.BadRequestError),
    ],
)
def test_fail_raises_typed_openai_errors(status: int, error: type[openai.APIStatusError]) -> None:
    with ScriptedLLM([Fail(status, "scripted boom")]) as llm, pytest.raises(error) as caught:
        ask(llm)
    assert caught.value.status_code == status
    assert "scripted boom" in caught.value.message
    assert "retry-after" not in caught.value.response.headers


def test_slow_turn_times_out_the_client() -> None:
    with ScriptedLLM([Slow(0.5, Text("too late")), Text("next")]) as llm:
        with sync_client(llm, timeout=0.1) as client, pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="m", messages=MESSAGES)
        assert ask(llm).choices[0].message.content == "next"


def test_slow_turn_does_not_block_other_requests() -> None:
    def script(body: dict[str, Any]) -> Turn:
        content = body["messages"][-1]["content"]
        return Slow(0.5, Text(content)) if content == "slow" else Text(content)

    async def run(llm: ScriptedLLM) -> list[str]:
        finished: list[str] = []
        async with async_client(llm) as client:

            async def one(content: str) -> None:
                completion = await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": content}]
                )
                finished.append(completion.choices[0].message.content or "")

            slow = asyncio.create_task(one("slow"))
            while not llm.requests:  # the slow request is in the server before the fast one
                await asyncio.sleep(0.01)
            await one("fast")
            await slow
        return finished

    with ScriptedLLM(script) as llm:
        assert asyncio.run(run(llm)) == ["fast", "slow"]


def test_stop_cuts_a_pending_slow_turn_short() -> None:
    async def run(llm: ScriptedLLM) -> None:
        async with async_client(llm) as client:
            pending = asyncio.create_task(
                client.chat.completions.create(model="m", messages=MESSAGES)
            )
            while not llm.requests:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(llm.stop)
            with pytest.raises(openai.InternalServerError) as caught:
                await pending
            assert caught.value.status_code == 503

    llm = ScriptedLLM([Slow(60, Text("never"))])
    llm.start()
    try:
        asyncio.run(run(llm))
    finally:
        llm.stop()


def test_exhausted_script_answers_500() -> None:
    with ScriptedLLM([Text("only")]) as llm:
        assert ask(llm).choices[0].message.content == "only"
        assert not llm.exhausted
        with pytest.raises(openai.InternalServerError) as caught:
            ask(llm)
        assert llm.exhausted
        assert len(llm.requests) == 2
    assert "script exhausted" in caught.value.message


def test_when_exhausted_answers_after_the_script() -> None:
    with ScriptedLLM([Text("first")], when_exhausted=Text("fallback")) as llm:
        answers = [ask(llm).choices[0].message.content for _ in range(3)]
        assert llm.exhausted
    assert answers == ["first", "fallback", "fallback"]


def test_callable_script_sees_each_request_body() -> None:
    seen: list[dict[str, Any]] = []

    def script(body: dict[str, Any]) -> Turn:
        seen.append(body)
        last = body["messages"][-1]
        if last["role"] == "tool":
            return Text(f"result was {last['content']}")
        names = [t["function"]["name"] for t in body.get("tools", [])]
        return ToolCalls([Call(names[0], {"q": last["content"]}, id="call_a")])

    async def run(llm: ScriptedLLM) -> tuple[Any, Any]:
        async with async_client(llm) as client:
            messages: list[Any] = [{"role": "user", "content": "find it"}]
            first = await client.chat.completions.create(
                model="m", messages=messages, tools=[tool("lookup")], tool_choice="auto"
            )
            messages += [
                first.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": "call_a", "content": "42"},
            ]
            second = await client.chat.completions.create(
                model="m", messages=messages, tools=[tool("lookup")]
            )
            return first, second

    with ScriptedLLM(script) as llm:
        first, second = asyncio.run(run(llm))
        assert not llm.exhausted
        assert seen == llm.requests
    calls = first.choices[0].message.tool_calls
    assert calls[0].function.name == "lookup"
    assert json.loads(calls[0].function.arguments) == {"q": "find it"}
    assert second.choices[0].message.content == "result was 42"
    assert seen[1]["messages"][1]["tool_calls"][0]["id"] == "call_a"


def test_callable_script_errors_answer_500_with_the_reason() -> None:
    def script(body: dict[str, Any]) -> Turn:
        raise KeyError("no plan for this")

    with ScriptedLLM(script) as llm, pytest.raises(openai.InternalServerError) as caught:
        ask(llm)
    assert "no plan for this" in caught.value.message


def test_stream_true_is_rejected_with_400() -> None:
    with ScriptedLLM([Text("unused")]) as llm:
        with sync_client(llm) as client, pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        assert llm.requests[0]["stream"] is True
        assert ask(llm).choices[0].message.content == "unused"  # no turn was consumed
    assert "stream" in caught.value.message
    assert "not supported" in caught.value.message


def test_non_json_body_is_rejected_with_400() -> None:
    with ScriptedLLM([Text("unused")]) as llm:
        response = httpx.post(
            f"{llm.base_url}/chat/completions",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert llm.requests == []
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_models_endpoint_lists_the_model() -> None:
    with ScriptedLLM([], model="planner-model") as llm, sync_client(llm) as client:
        models = client.models.list()
    assert [m.id for m in models.data] == ["planner-model"]


def test_two_instances_run_at_once_on_different_ports() -> None:
    with ScriptedLLM([Text("one")]) as a, ScriptedLLM([Text("two")]) as b:
        assert a.base_url != b.base_url
        assert a.base_url.startswith("http://127.0.0.1:")
        assert a.base_url.endswith("/v1")
        assert ask(b).choices[0].message.content == "two"
        assert ask(a).choices[0].message.content == "one"


def test_base_url_needs_a_running_server() -> None:
    llm = ScriptedLLM([Text("x")])
    with pytest.raises(RuntimeError):
        _ = llm.base_url
    with llm:
        assert llm.base_url
    with pytest.raises(RuntimeError):
        _ = llm.base_url


def test_invalid_scripts_are_rejected_early() -> None:
    with pytest.raises(ValueError):
        Fail(200)
    with pytest.raises(ValueError):
        ToolCalls([])
    with pytest.raises(TypeError):
        Slow(0.1, Repeat(Text("x"), 2))
    with pytest.raises(TypeError):
        ScriptedLLM([Text("x")], when_exhausted=Repeat(Text("x"), 2))
