"""``Responder``: the planner wired to its parts, as ``/v1/respond`` uses it — answer, convert
to the requested format, append the trace record."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

from lucy.errors import InvalidRequestError
from lucy.planner.llm import ChatModel, OpenAIChat
from lucy.planner.loop import Executor, Planner, ToolIndex
from lucy.planner.prompts import request_query
from lucy.planner.replies import to_slack
from lucy.planner.trace import RespondResult, TraceLog, trace_record
from lucy.providers.demo import DemoProvider
from lucy.providers.executor import ToolExecutor
from lucy.settings import Settings


class Responder:
    def __init__(
        self, planner: Planner, trace_log: TraceLog | None, *, owned_llm: OpenAIChat | None = None
    ) -> None:
        self.planner = planner
        self.trace_log = trace_log
        self._owned_llm = owned_llm

    async def aclose(self) -> None:
        """Close the LLM client this responder opened (not one passed in)."""
        if self._owned_llm is not None:
            await self._owned_llm.close()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        index: ToolIndex,
        *,
        llm: ChatModel | None = None,
        executor: Executor | None = None,
    ) -> Responder:
        """The default wiring: the configured LLM endpoint, the demo provider, the trace file."""
        owned = None
        if llm is None:
            llm = owned = OpenAIChat.from_settings(settings)
        planner = Planner(
            index,
            llm,
            executor or ToolExecutor([DemoProvider()]),
            settings.planner,
        )
        return cls(planner, TraceLog(settings.traces_file), owned_llm=owned)

    async def respond(
        self,
        thread: Sequence[dict[str, str]],
        *,
        workspace_id: str,
        user_id: str | None = None,
        format: Literal["markdown", "slack"] = "markdown",
    ) -> RespondResult:
        query = request_query(thread)
        if not query:
            raise InvalidRequestError("the thread has no user message", field="thread")
        result = await self.planner.respond(thread, workspace_id=workspace_id, user_id=user_id)
        if format == "slack":
            result = result.model_copy(update={"text": to_slack(result.text)})
        if self.trace_log is not None:
            record = trace_record(result, workspace_id=workspace_id, user_id=user_id, query=query)
            await asyncio.to_thread(self.trace_log.append, record)
        return result
