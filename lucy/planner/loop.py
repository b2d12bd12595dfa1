"""The planner: one Slack thread in, one useful, honest, non-empty reply out.

``Planner.respond`` retrieves candidates (stage 1), short-circuits when only unconnected
toolkits fit, then runs the tool loop: every call passes the guards (``guards.py``) before the
executor runs it; ``find_tools``, an unknown tool name or low retrieval confidence widen the
candidates (stage 2); the ``Budget`` bounds the loop; a completeness claim is checked against
the results (``completeness.py``); an empty answer gets one tool-less finalization call and
then a reply Lucy writes herself (``replies.py``)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from lucy.errors import IndexNotReadyError, InvalidRequestError, LLMError, UnknownToolError
from lucy.models import (
    Candidate,
    MissingConnection,
    RetrievalResult,
    ToolCall,
    ToolError,
    ToolErrorKind,
    ToolResult,
    ToolSpec,
)
from lucy.planner.budget import Budget
from lucy.planner.calls import TurnState, plan_call, run_planned
from lucy.planner.completeness import claims_completeness
from lucy.planner.connection import needs_connection
from lucy.planner.context import fit_prompt, render_result, wire_messages
from lucy.planner.gate import Chains, qualify
from lucy.planner.guards import RepeatGuard
from lucy.planner.llm import ChatModel, LLMTurn
from lucy.planner.offer import FIND_TOOLS, Offer, Stage
from lucy.planner.prompts import (
    FINALIZE_NOTE,
    GATE_NOTE,
    assistant_message,
    opening_messages,
    request_query,
)
from lucy.planner.replies import connection_required, outcome_unknown, summarize_results
from lucy.planner.trace import (
    CallRecord,
    Flags,
    OfferedTool,
    RespondResult,
    StepKind,
    StepRecord,
    Trace,
)
from lucy.providers.base import CallContext
from lucy.settings import PlannerSettings

log = logging.getLogger(__name__)


class ToolIndex(Protocol):
    """What the planner needs from the capability index (``CapabilityIndex`` fits)."""

    def retrieve(
        self, query: str, *, workspace_id: str, user_id: str | None = None, k: int | None = None
    ) -> RetrievalResult: ...

    def connected(self, workspace_id: str, user_id: str | None = None) -> list[str]: ...

    def tool(self, slug: str) -> ToolSpec: ...

    def connect_link(self, toolkit: str, workspace_id: str, user_id: str | None) -> str | None: ...

    def invalidate_connections(self, workspace_id: str, user_id: str | None = None) -> None: ...


class Executor(Protocol):
    async def run(
        self, tool: ToolSpec, arguments: dict[str, Any], context: CallContext, *, call_id: str
    ) -> ToolResult: ...


class Planner:
    def __init__(
        self,
        index: ToolIndex,
        llm: ChatModel,
        executor: Executor,
        settings: PlannerSettings,
    ) -> None:
        self.index = index
        self.llm = llm
        self.executor = executor
        self.settings = settings

    async def respond(
        self,
        thread: Sequence[dict[str, str]],
        *,
        workspace_id: str,
        user_id: str | None = None,
        request_id: str | None = None,
    ) -> RespondResult:
        """Answer the last user message of ``thread`` (``[{"role", "content"}, ...]``)."""
        run = _Run(self, thread, workspace_id, user_id, request_id or uuid.uuid4().hex)
        try:
            return await run.execute()
        except (InvalidRequestError, IndexNotReadyError):
            raise  # the caller's mistake, or no index yet: the API maps these to 422 / 503
        except Exception as exc:  # a bug must still end in an honest reply, not a 500
            log.exception("planner failed on request %s", run.trace.request_id)
            return run.internal_error(exc)


class _Run:
    """The state of one request. Not shared between requests."""

    def __init__(
        self,
        planner: Planner,
        thread: Sequence[dict[str, str]],
        workspace_id: str,
        user_id: str | None,
        request_id: str,
    ) -> None:
        self.p = planner
        self.s = planner.settings
        self.thread = thread
        self.workspace_id = workspace_id
        self.user_id = user_id
        self.query = request_query(thread)
        self.started = time.perf_counter()
        self.budget = Budget.from_settings(self.s)
        self.trace = Trace(request_id=request_id)
        self.flags = Flags()
        self.offer = Offer((), planner.settings.max_offered_tools)
        self.messages: list[dict[str, Any]] = []
        self.results: list[ToolResult] = []
        self.repeats = RepeatGuard()
        self.chains = Chains()
        self.gate_pages = 0
        self.llm_failed = False
        self.widened: set[str] = set()

    # -- the whole request ---------------------------------------------------------------

    async def execute(self) -> RespondResult:
        first = await self._retrieve(self.query, self.s.k1)
        needed = needs_connection(first, self.s.stage2_min_similarity)
        if needed:
            # a cached "not connected" may be an auth event that never came: before telling
            # someone to connect a toolkit, ask the source again
            await self._forget_connections()
            first = await self._retrieve(self.query, self.s.k1, record=False)
            needed = needs_connection(first, self.s.stage2_min_similarity)
        self.trace.index_version = first.index_version
        connected = await asyncio.to_thread(self.p.index.connected, self.workspace_id, self.user_id)
        self.offer = Offer(connected, self.s.max_offered_tools)
        if needed:
            self.flags.connection_required = True
            text = connection_required(needed, self.workspace_id, await self._links(needed))
            self._step("reply", 0.0, "connection required: " + ", ".join(m.toolkit for m in needed))
            return self._finish(text)
        self._offer(first.candidates, 1)
        best = max((c.similarity for c in first.candidates), default=-1.0)
        if best < self.s.stage2_min_similarity:
            await self._widen(self.query, f"low confidence (best similarity {best:.2f})")
        self.messages = opening_messages(self.thread, first.missing_connections)
        answer = await self._loop() or await self._finalize()
        if not answer:
            self.flags.fallback_used = True
            reason = self._stop_reason()
            self._step("fallback", 0.0, reason)
            text = summarize_results(self.results, reason)
        else:
            text = self._qualified(answer)
        unknown = [r for r in self.results if r.outcome_unknown]
        if unknown:
            self.flags.outcome_unknown = True
            text += "\n\n" + outcome_unknown(unknown)
        named = [m for m in first.missing_connections if m.reason == "named in the request"]
        if named:
            self.flags.connection_required = True
            names = ", ".join(f"{m.name} (`{m.toolkit}`)" for m in named)
            text += f"\n\nNot connected in this workspace: {names}. Connect it to let me use it."
        return self._finish(text)

    async def _links(self, needed: Sequence[MissingConnection]) -> dict[str, str | None]:
        """Each toolkit's connect link (the provider may be asked: in worker threads)."""
        links = await asyncio.gather(
            *(
                asyncio.to_thread(
                    self.p.index.connect_link, m.toolkit, self.workspace_id, self.user_id
                )
                for m in needed
            )
        )
        return {m.toolkit: link for m, link in zip(needed, links, strict=True)}

    def internal_error(self, exc: Exception) -> RespondResult:
        """The reply when Lucy herself failed: what was done so far, said plainly."""
        self.flags.fallback_used = True
        self._step("fallback", 0.0, f"internal error: {type(exc).__name__}")
        return self._finish(summarize_results(self.results, "an internal error stopped me"))

    def _finish(self, text: str) -> RespondResult:
        t = self.trace
        t.llm_steps = self.budget.llm_steps
        t.tool_calls = self.budget.tool_calls
        t.timings.total_ms = (time.perf_counter() - self.started) * 1000
        t.timings.planner_ms = max(0.0, t.timings.total_ms - t.timings.llm_ms - t.timings.tools_ms)
        t.errors = [c.error for c in t.calls if c.error is not None]
        return RespondResult(text=text.strip(), trace=t, flags=self.flags)

    def _stop_reason(self) -> str:
        if self.llm_failed:
            return "the language model could not be reached"
        if self.flags.loop_broken:
            return "I was repeating the same tool call"
        if self.flags.budget_exhausted or not self.budget.can_plan():
            return self.budget.exhausted_reason()
        return "the model gave no answer"

    # -- the loop ------------------------------------------------------------------------

    async def _loop(self) -> str | None:
        """Plan and call tools until the model answers in words, or a guard stops it."""
        while self.budget.can_plan():
            turn = await self._complete(self.offer.schemas(), "llm")
            if turn is None:
                return None
            if turn.tool_calls:
                self.messages.append(assistant_message(turn))
                await self._run_calls(turn)
                if self.flags.loop_broken or self.flags.budget_exhausted:
                    return None
                continue
            text = (turn.content or "").strip()
            if not text:
                return None
            if claims_completeness(text) and await self._gate_fetch():
                continue
            return text
        self.flags.budget_exhausted = True
        return None

    async def _finalize(self) -> str | None:
        """One tool-less call asking for an answer in words (the reserved step)."""
        if self.llm_failed:
            return None
        if not self.budget.can_finalize():
            self.flags.budget_exhausted = True
            return None
        self.messages.append({"role": "user", "content": FINALIZE_NOTE})
        turn = await self._complete([], "finalize")
        return (turn.content or "").strip() or None if turn else None

    async def _complete(
        self, tools: list[dict[str, Any]], kind: Literal["llm", "finalize"]
    ) -> LLMTurn | None:
        t0 = time.perf_counter()
        shrunk = fit_prompt(self.messages, tools, self.s.prompt_token_budget)
        self.budget.spend_step()
        timeout = min(self.s.llm_timeout_seconds, max(0.01, self.budget.remaining()))
        t1 = time.perf_counter()
        try:
            turn = await self.p.llm.complete(wire_messages(self.messages), tools, timeout=timeout)
        except LLMError as exc:
            self.llm_failed = True
            self._llm_time(t1)
            self._step(kind, (time.perf_counter() - t0) * 1000, f"LLM failed: {exc}")
            return None
        self._llm_time(t1)
        detail = f"{len(turn.tool_calls)} tool calls" if turn.tool_calls else "text"
        if not turn.tool_calls and not (turn.content or "").strip():
            detail = "no text and no tool calls"
        if shrunk:
            detail += f"; {shrunk} messages compacted to fit the context"
        self._step(kind, (time.perf_counter() - t0) * 1000, detail)
        return turn

    def _llm_time(self, since: float) -> None:
        self.trace.timings.llm_ms += (time.perf_counter() - since) * 1000

    # -- tool calls ----------------------------------------------------------------------

    async def _run_calls(self, turn: LLMTurn) -> None:
        """Plan every call of the turn, run those that passed, answer them in order."""
        state = TurnState(
            self.offer.tools, self.offer.connected, self.repeats, self.budget, self.query
        )
        planned = [
            await plan_call(state, i, call, self._widen) for i, call in enumerate(turn.tool_calls)
        ]
        await run_planned(planned, state, self._run_tool, self._read_only)
        self.flags.loop_broken = self.flags.loop_broken or state.loop_broken
        self.flags.budget_exhausted = self.flags.budget_exhausted or state.budget_exhausted
        for p in planned:
            result = p.result or ToolResult(
                call_id=p.call.id,
                slug=p.call.name,
                error=ToolError(kind=ToolErrorKind.EXECUTION_ERROR, message="no result"),
            )
            self._answer_call(
                p.call.id, p.call.name, p.arguments, result, executed=p.executed, reused_note=p.note
            )

    def _read_only(self, slug: str) -> bool:
        tool = self.offer.tools.get(slug)
        return tool is not None and tool.read_only

    async def _execute(self, call_id: str, slug: str, arguments: dict[str, Any]) -> ToolResult:
        """One run that is not a model's planned call (the gate's next pages): budget first."""
        if not self.budget.can_call_tool():
            self.flags.budget_exhausted = True
            error = ToolError(
                kind=ToolErrorKind.BUDGET_EXHAUSTED, message=self.budget.exhausted_reason()
            )
            return ToolResult(call_id=call_id, slug=slug, error=error)
        self.budget.spend_tool_call()
        return await self._run_tool(call_id, slug, arguments)

    async def _run_tool(self, call_id: str, slug: str, arguments: dict[str, Any]) -> ToolResult:
        try:
            spec = await asyncio.to_thread(self.p.index.tool, slug)
        except UnknownToolError:  # the live index changed under this request
            error = ToolError(
                kind=ToolErrorKind.UNKNOWN_TOOL, message=f"{slug} is no longer in the index"
            )
            return ToolResult(call_id=call_id, slug=slug, error=error)
        context = CallContext(self.workspace_id, self.user_id, self.budget.deadline)
        t0 = time.perf_counter()
        result = await self.p.executor.run(spec, arguments, context, call_id=call_id)
        self.trace.timings.tools_ms += (time.perf_counter() - t0) * 1000
        if result.error is not None and result.error.kind is ToolErrorKind.AUTH:
            # the provider refused the credentials: what Lucy holds of the workspace's
            # connections may be stale (an auth event that never came), so read it afresh
            await self._forget_connections()
        return result

    async def _forget_connections(self) -> None:
        """Have the index read this workspace's and this user's connections afresh."""
        await asyncio.to_thread(self.p.index.invalidate_connections, self.workspace_id)
        if self.user_id is not None:
            await asyncio.to_thread(
                self.p.index.invalidate_connections, self.workspace_id, self.user_id
            )

    def _answer_call(
        self,
        call_id: str,
        name: str,
        arguments: dict[str, Any] | str,
        result: ToolResult,
        *,
        executed: bool = False,
        reused_note: str | None = None,
        source: Literal["model", "gate"] = "model",
    ) -> None:
        """Record the call and put its result (or error) into the conversation."""
        body: Any = result.data if result.error is None else result.error.for_model()
        if reused_note is not None:
            body = {"note": reused_note, "result": body}
        content, truncated = render_result(body, self.s.max_result_chars)
        if name != FIND_TOOLS and reused_note is None:
            self.results.append(result)
            if result.error is None and isinstance(arguments, dict):
                self.chains.add(
                    name, arguments, result.data, truncated, self.offer.parameters(name)
                )
        self.messages.append(
            {"role": "tool", "tool_call_id": call_id, "content": content, "tool_name": name}
        )
        self.trace.calls.append(
            CallRecord(
                id=call_id,
                slug=name,
                provider=result.provider,
                arguments=arguments,
                stage=self.offer.stage.get(name),
                source=source,
                executed=executed,
                reused=reused_note is not None,
                ok=result.error is None,
                error=result.error,
                attempts=result.attempts,
                elapsed_ms=result.elapsed_ms,
            )
        )

    # -- stage 2 -------------------------------------------------------------------------

    async def _widen(self, query: str, why: str) -> list[str]:
        """Stage 2: retrieve again, wider, and offer what is new (within the cap). A query
        already widened with, or a full offer, costs no retrieval."""
        if query in self.widened or len(self.offer.tools) >= self.offer.cap:
            return []
        self.widened.add(query)
        t0 = time.perf_counter()
        result = await self._retrieve(query, self.s.k2, record=False)
        added = self._offer(result.candidates, 2)
        if 2 not in self.trace.stages:
            self.trace.stages.append(2)
        self._step("stage2", (time.perf_counter() - t0) * 1000, f"{why}: added {added}")
        return added

    async def _retrieve(self, query: str, k: int, *, record: bool = True) -> RetrievalResult:
        """Retrieval on the first ``retrieval_query_chars`` of ``query``: a pasted log in
        Slack, or a model's rambling ``find_tools`` query, is not the caller's error."""
        t0 = time.perf_counter()
        result = await asyncio.to_thread(
            self.p.index.retrieve,
            query[: self.s.retrieval_query_chars],
            workspace_id=self.workspace_id,
            user_id=self.user_id,
            k=k,
        )
        elapsed = (time.perf_counter() - t0) * 1000
        self.trace.timings.retrieval_ms += elapsed
        if record:
            self.trace.stages.append(1)
            self._step("retrieve", elapsed, f"{len(result.candidates)} candidates")
        return result

    def _offer(self, candidates: Sequence[Candidate], stage: Stage) -> list[str]:
        added = self.offer.add(candidates, stage)
        self.trace.offered += [
            OfferedTool(slug=c.slug, toolkit=c.toolkit, stage=stage, score=c.score) for c in added
        ]
        return [c.slug for c in added]

    # -- the completeness gate -----------------------------------------------------------

    async def _gate_fetch(self) -> bool:
        """A completeness claim with pages left: fetch the next ones while the budget allows.
        True when pages were fetched (the model is asked again)."""
        pending = self.chains.pending()
        if not pending or self.gate_pages >= self.s.max_gate_pages:
            return False
        if not (self.budget.can_plan() and self.budget.can_call_tool()):
            return False
        t0 = time.perf_counter()
        calls = [
            ToolCall(id=f"lucy_gate_{uuid.uuid4().hex[:12]}", name=slug, arguments=json.dumps(args))
            for slug, args in pending[: self.s.max_gate_pages - self.gate_pages]
        ]
        self.messages.append(assistant_message(LLMTurn(content=None, tool_calls=calls)))
        for call, (_, args) in zip(calls, pending[: len(calls)], strict=True):
            self.gate_pages += 1
            result = await self._execute(call.id, call.name, args)
            self._answer_call(
                call.id, call.name, args, result, executed=result.attempts > 0, source="gate"
            )
        self.messages.append({"role": "user", "content": GATE_NOTE})
        self._step("gate", (time.perf_counter() - t0) * 1000, f"fetched {len(calls)} more pages")
        return True

    def _qualified(self, text: str) -> str:
        if not claims_completeness(text):
            return text
        qualified = qualify(text, self.chains)
        if qualified != text:
            self.flags.completeness_qualified = True
            self._step("gate", 0.0, "completeness claim qualified")
        return qualified

    # -- bookkeeping ---------------------------------------------------------------------

    def _step(self, kind: StepKind, elapsed_ms: float, detail: str) -> None:
        self.trace.steps.append(StepRecord(kind=kind, elapsed_ms=elapsed_ms, detail=detail))
