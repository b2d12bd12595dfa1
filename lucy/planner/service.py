"""``Responder``: the planner wired to its parts, as ``/v1/respond`` uses it — answer, convert
to the requested format, append the trace record."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

from lucy.errors import InvalidRequestError
from lucy.models import TraceRecord
from lucy.planner.llm import ChatModel, OpenAIChat
from lucy.planner.loop import Executor, Planner, ToolIndex
from lucy.planner.prompts import request_query
from lucy.planner.replies import to_slack
from lucy.planner.trace import RespondResult, TraceLog, trace_record
from lucy.providers.demo import DemoProvider
from lucy.providers.executor import ToolExecutor
from lucy.settings import Settings

log = logging.getLogger(__name__)


class TraceSink(Protocol):
    """Where a request's trace record goes (``lucy.store.TraceRecords``, ``JsonlTraces``)."""

    async def append(self, record: TraceRecord) -> None: ...


class JsonlTraces:
    """Trace records appended to a JSON-lines file (``LUCY_TRACE_PATH``)."""

    def __init__(self, path: Path) -> None:
        self._log = TraceLog(path)

    async def append(self, record: TraceRecord) -> None:
        await asyncio.to_thread(self._log.append, record)


class Responder:
    def __init__(
        self,
        planner: Planner,
        traces: Sequence[TraceSink] = (),
        *,
        owned_llm: OpenAIChat | None = None,
    ) -> None:
        self.planner = planner
        self.traces = tuple(traces)
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
        traces: Sequence[TraceSink] = (),
    ) -> Responder:
        """The configured LLM endpoint (or ``llm``), ``executor`` (default: the demo provider),
        trace records to ``traces`` and, when ``LUCY_TRACE_PATH`` is set, to that file too."""
        owned = None
        if llm is None:
            llm = owned = OpenAIChat.from_settings(settings)
        planner = Planner(
            index,
            llm,
            executor or ToolExecutor([DemoProvider()]),
            settings.planner,
        )
        sinks = [*traces, *([JsonlTraces(settings.trace_path)] if settings.trace_path else [])]
        return cls(planner, sinks, owned_llm=owned)

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
        record = trace_record(result, workspace_id=workspace_id, user_id=user_id, query=query)
        for sink in self.traces:
            try:
                await sink.append(record)
            except Exception:  # the reply stands; the lost record is logged loudly
                log.exception("could not store the trace of request %s", record.request_id)
        return result
