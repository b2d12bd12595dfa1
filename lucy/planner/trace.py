"""What one /v1/respond request did, for the caller (``RespondResult.trace``) and for the trace
log that ``lucy eval from-traces`` reads (``TraceRecord``, one JSON line per request)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from lucy.models import ToolError, ToolErrorKind, TraceRecord, TraceToolCall

Stage = Literal[1, 2]


class OfferedTool(BaseModel):
    slug: str
    toolkit: str
    stage: Stage
    score: float


class CallRecord(BaseModel):
    """One tool call: asked for by the model, or made by the completeness gate."""

    id: str
    slug: str
    provider: str | None = Field(None, description="The provider that ran it, if any did.")
    arguments: Any = Field(description="Parsed arguments, or the raw text when unparseable.")
    stage: Stage | None = Field(None, description="Stage that offered the tool; None if never.")
    source: Literal["model", "gate"] = "model"
    executed: bool = False
    reused: bool = False
    ok: bool
    error: ToolError | None = None
    attempts: int = 0
    elapsed_ms: float = 0.0


StepKind = Literal["retrieve", "llm", "stage2", "gate", "finalize", "fallback", "reply"]


class StepRecord(BaseModel):
    kind: StepKind
    elapsed_ms: float
    detail: str = ""


class Timings(BaseModel):
    retrieval_ms: float = 0.0
    llm_ms: float = 0.0
    tools_ms: float = 0.0
    planner_ms: float = Field(0.0, description="Everything but the LLM and the tools.")
    total_ms: float = 0.0


class Trace(BaseModel):
    request_id: str
    index_version: str | None = None
    stages: list[Stage] = Field(default_factory=list)
    offered: list[OfferedTool] = Field(default_factory=list)
    calls: list[CallRecord] = Field(default_factory=list)
    errors: list[ToolError] = Field(default_factory=list)
    steps: list[StepRecord] = Field(default_factory=list)
    llm_steps: int = 0
    tool_calls: int = 0
    timings: Timings = Field(default_factory=Timings)

    def error_kinds(self) -> list[ToolErrorKind]:
        return [e.kind for e in self.errors]


class Flags(BaseModel):
    fallback_used: bool = False
    connection_required: bool = False
    completeness_qualified: bool = False
    loop_broken: bool = False
    budget_exhausted: bool = False
    outcome_unknown: bool = Field(
        False, description="A write may or may not have taken effect (no answer in time)."
    )


class RespondResult(BaseModel):
    text: str
    trace: Trace
    flags: Flags


def trace_record(
    result: RespondResult, *, workspace_id: str, user_id: str | None, query: str
) -> TraceRecord:
    """The line ``lucy eval from-traces`` reads: executed calls with their stage and outcome."""
    return TraceRecord(
        ts=datetime.now(UTC).isoformat(),
        request_id=result.trace.request_id,
        workspace_id=workspace_id,
        user_id=user_id,
        query=query,
        index_version=result.trace.index_version,
        tool_calls=[
            TraceToolCall(
                slug=c.slug,
                provider=c.provider,
                ok=c.ok,
                error_kind=c.error.kind.value if c.error else None,
                stage=c.stage or 1,
            )
            for c in result.trace.calls
            if c.executed and c.source == "model"
        ],
        final_text_ok=not result.flags.fallback_used,
    )


class TraceLog:
    """Appends trace records to a JSONL file, one line per request, from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: TraceRecord) -> None:
        line = record.model_dump_json() + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
