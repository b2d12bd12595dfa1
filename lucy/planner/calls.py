"""One model turn's tool calls: plan each (guards, repeats, budget, ``find_tools``), run the
ones that passed — at the same time when every one of them is read-only, one after another in
the model's order otherwise — and answer every call in the order the model made them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from lucy.models import Candidate, ToolCall, ToolError, ToolErrorKind, ToolResult
from lucy.planner.budget import Budget
from lucy.planner.guards import (
    Repeat,
    RepeatGuard,
    canonical_arguments,
    check_call,
    parse_arguments,
)
from lucy.planner.offer import FIND_TOOLS

REUSED_NOTE = "You already made this exact call; this is its result again. Do not repeat it."

Run = Callable[[str, str, dict[str, Any]], Awaitable[ToolResult]]
Widen = Callable[[str, str], Awaitable[list[str]]]


@dataclass
class Planned:
    """What will be answered to one call: a result decided without running anything, or a
    run to make (``run``), or the result of an identical call of this turn (``same_as``)."""

    call: ToolCall
    arguments: dict[str, Any] | str
    result: ToolResult | None = None
    run: bool = False
    same_as: int | None = None
    note: str | None = None

    @property
    def executed(self) -> bool:
        return self.run and self.result is not None and self.result.attempts > 0


@dataclass
class TurnState:
    """What the planner shares with the calls of one turn."""

    offered: Mapping[str, Candidate]
    connected: Collection[str]
    repeats: RepeatGuard
    budget: Budget
    query: str
    loop_broken: bool = False
    budget_exhausted: bool = False
    pending: dict[tuple[str, str], int] = field(default_factory=dict)


def _failed(call: ToolCall, arguments: dict[str, Any] | str, error: ToolError) -> Planned:
    return Planned(call, arguments, ToolResult(call_id=call.id, slug=call.name, error=error))


async def plan_call(state: TurnState, index: int, call: ToolCall, widen: Widen) -> Planned:
    """Decide what happens to one call; nothing is executed here."""
    if state.loop_broken or state.budget_exhausted:
        kind = ToolErrorKind.LOOP_DETECTED if state.loop_broken else ToolErrorKind.BUDGET_EXHAUSTED
        message = "not run: the loop stopped before this call"
        return _failed(call, call.arguments, ToolError(kind=kind, message=message))
    if call.name == FIND_TOOLS:
        return await _plan_find_tools(state, call, widen)
    checked = check_call(call.name, call.arguments, state.offered, state.connected)
    if isinstance(checked, ToolError):
        if checked.kind is ToolErrorKind.UNKNOWN_TOOL:
            words = call.name.replace("_", " ").lower()
            added = await widen(f"{state.query} {words}", f"unknown tool {call.name!r}")
            checked.details["valid_tools"] = sorted(state.offered)
            checked.details["added_tools"] = added
        return _failed(call, call.arguments, checked)
    decision, earlier = state.repeats.check(call.name, checked)
    if decision is Repeat.BREAK:
        state.loop_broken = True
        message = f"{call.name} was called with the same arguments three times; stopping"
        return _failed(call, checked, ToolError(kind=ToolErrorKind.LOOP_DETECTED, message=message))
    key = (call.name, canonical_arguments(checked))
    if decision is Repeat.REUSE:
        if earlier is not None:
            reused = earlier.model_copy(update={"call_id": call.id})
            return Planned(call, checked, reused, note=REUSED_NOTE)
        first = state.pending.get(key)
        return Planned(call, checked, same_as=first, note=REUSED_NOTE)
    if not state.budget.can_call_tool():
        state.budget_exhausted = True
        error = ToolError(
            kind=ToolErrorKind.BUDGET_EXHAUSTED, message=state.budget.exhausted_reason()
        )
        return _failed(call, checked, error)
    state.budget.spend_tool_call()
    state.pending[key] = index
    return Planned(call, checked, run=True)


async def _plan_find_tools(state: TurnState, call: ToolCall, widen: Widen) -> Planned:
    parsed = parse_arguments(call.arguments)
    query = parsed.get("query") if isinstance(parsed, dict) else None
    if isinstance(parsed, ToolError):
        return _failed(call, call.arguments, parsed)
    if not isinstance(query, str) or not query.strip():
        error = ToolError(
            kind=ToolErrorKind.INVALID_ARGUMENTS,
            message="find_tools needs a non-empty string 'query'",
            details={"problems": ["$.query: required non-empty string"]},
        )
        return _failed(call, call.arguments, error)
    arguments = {"query": query}
    decision, _ = state.repeats.check(FIND_TOOLS, arguments)
    if decision is Repeat.BREAK:
        state.loop_broken = True
        error = ToolError(kind=ToolErrorKind.LOOP_DETECTED, message="find_tools repeated")
        return _failed(call, arguments, error)
    added = await widen(query, "find_tools") if decision is Repeat.NEW else []
    data = {
        "added_tools": added,
        "offered_tools": sorted(state.offered),
        "message": "New tools are available now."
        if added
        else "No further tools fit; use the offered ones or answer with what you have.",
    }
    result = ToolResult(call_id=call.id, slug=FIND_TOOLS, data=data)
    if decision is Repeat.NEW:
        state.repeats.record(FIND_TOOLS, arguments, result)
    return Planned(call, arguments, result)


async def run_planned(
    planned: list[Planned], state: TurnState, run: Run, read_only: Callable[[str], bool]
) -> None:
    """Run every planned call; fill in the results of same-turn repeats."""
    to_run = [(p, p.arguments) for p in planned if p.run and isinstance(p.arguments, dict)]
    if to_run and all(read_only(p.call.name) for p, _ in to_run):
        results = await asyncio.gather(*(run(p.call.id, p.call.name, a) for p, a in to_run))
    else:
        results = [await run(p.call.id, p.call.name, a) for p, a in to_run]
    for (p, arguments), result in zip(to_run, results, strict=True):
        p.result = result
        state.repeats.record(p.call.name, arguments, result)
    for p in planned:
        first = planned[p.same_as].result if p.same_as is not None else None
        if p.result is None and first is not None:
            p.result = first.model_copy(update={"call_id": p.call.id})
