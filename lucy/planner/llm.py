"""The LLM client: chat completions with tools over the ``openai`` package, for any
OpenAI-compatible endpoint. The planner depends on the ``ChatModel`` protocol only."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai

from lucy.errors import ConfigurationError, LLMError
from lucy.models import ToolCall
from lucy.settings import Settings


@dataclass(frozen=True)
class LLMTurn:
    """What the model answered: text, tool calls, or (misbehaving) neither."""

    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatModel(Protocol):
    async def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        *,
        timeout: float,
    ) -> LLMTurn:
        """One chat completion. No ``tools`` means the model must answer in words."""
        ...


class OpenAIChat:
    """``ChatModel`` over ``openai.AsyncOpenAI`` with the client's own retries off: Lucy
    retries 429 (after Retry-After, if the deadline allows), 5xx and connect errors itself,
    ``max_retries`` times with full jitter."""

    _RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)

    def __init__(self, client: openai.AsyncOpenAI, model: str, *, max_retries: int = 1) -> None:
        self._client = client
        self._model = model
        self._max_retries = max_retries

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIChat:
        if not settings.llm_configured or settings.llm_model is None:
            raise ConfigurationError(
                "no LLM configured: set LUCY_LLM_BASE_URL and LUCY_LLM_MODEL "
                "(and LUCY_LLM_API_KEY if the endpoint needs one)"
            )
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "unused"
        client = openai.AsyncOpenAI(base_url=settings.llm_base_url, api_key=key, max_retries=0)
        return cls(client, settings.llm_model, max_retries=settings.planner.llm_max_retries)

    async def complete(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]],
        *,
        timeout: float,
    ) -> LLMTurn:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        attempt = 0
        while True:
            try:
                return await self._once(messages, tools, max(0.01, deadline - loop.time()))
            except self._RETRYABLE as exc:
                delay = _retry_delay(exc, attempt)
                attempt += 1
                if attempt > self._max_retries or loop.time() + delay >= deadline:
                    raise LLMError(f"the LLM endpoint failed: {_describe(exc)}") from exc
                await asyncio.sleep(delay)
            except openai.APIError as exc:
                raise LLMError(f"the LLM endpoint failed: {_describe(exc)}") from exc

    async def _once(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]], timeout: float
    ) -> LLMTurn:
        kwargs: dict[str, Any] = {"model": self._model, "messages": list(messages)}
        if tools:
            kwargs["tools"] = list(tools)
        response = await self._client.chat.completions.create(**kwargs, timeout=timeout)
        if not response.choices:
            return LLMTurn(content=None)
        message = response.choices[0].message
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "")
            for c in message.tool_calls or []
            if c.type == "function"
        ]
        usage = response.usage
        return LLMTurn(
            content=message.content,
            tool_calls=calls,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )

    async def close(self) -> None:
        await self._client.close()


def _retry_delay(exc: Exception, attempt: int) -> float:
    if isinstance(exc, openai.RateLimitError):
        header = exc.response.headers.get("retry-after")
        try:
            return max(0.0, float(header)) if header else 1.0
        except ValueError:
            return 1.0
    return random.uniform(0.0, min(2.0, 0.25 * 2**attempt))  # full jitter


def _describe(exc: Exception) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {exc.message}"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"
