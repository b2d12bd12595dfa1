"""Helpers for planner tests: the real ``openai`` client against the scripted double, the demo
provider behind the real executor, and a record of every call that was executed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from lucy.capability_index.service import CapabilityIndex
from lucy.models import ToolResult, ToolSpec
from lucy.planner.llm import OpenAIChat
from lucy.planner.loop import Planner
from lucy.planner.trace import RespondResult
from lucy.providers.base import CallContext
from lucy.providers.demo import DemoProvider
from lucy.providers.executor import ToolExecutor
from lucy.settings import PlannerSettings
from lucy.testing import ScriptedLLM


@dataclass
class RecordingExecutor:
    """The real executor, noting each call it was asked to run."""

    inner: Any  # a ToolExecutor, or a test's stand-in
    executed: list[tuple[ToolSpec, dict[str, Any]]] = field(default_factory=list)

    async def run(
        self, tool: ToolSpec, arguments: dict[str, Any], context: CallContext, *, call_id: str
    ) -> ToolResult:
        self.executed.append((tool, arguments))
        return await self.inner.run(tool, arguments, context, call_id=call_id)


def ask(
    index: CapabilityIndex,
    llm: ScriptedLLM,
    question: str | Sequence[dict[str, str]],
    *,
    workspace_id: str = "demo",
    provider: DemoProvider | None = None,
    inner: Any = None,
    **planner_settings: Any,
) -> tuple[RespondResult, RecordingExecutor]:
    """One /v1/respond-equivalent request through the planner, on a fresh event loop.
    ``inner`` replaces the real executor (a test's own, e.g. one that breaks its contract)."""
    thread = [{"role": "user", "content": question}] if isinstance(question, str) else question
    executor = RecordingExecutor(inner or ToolExecutor([provider or DemoProvider()]))

    async def go() -> RespondResult:
        async with openai.AsyncOpenAI(
            base_url=llm.base_url, api_key="test", max_retries=0
        ) as client:
            chat = OpenAIChat(client, llm.model, max_retries=0)
            planner = Planner(index, chat, executor, PlannerSettings(**planner_settings))
            return await planner.respond(list(thread), workspace_id=workspace_id)

    return asyncio.run(go()), executor


def tool_messages(request: dict[str, Any]) -> list[str]:
    """The contents of the tool messages in one recorded LLM request."""
    return [str(m["content"]) for m in request["messages"] if m["role"] == "tool"]
