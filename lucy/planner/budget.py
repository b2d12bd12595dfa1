"""The ``Budget``: LLM steps, tool calls and a wall-clock deadline for one request.

One object, finite defaults (``PlannerSettings``), checked at named points of the loop. One LLM
step is always held back for the finalization call, so a request that used up its tool steps
can still be answered in words."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lucy.settings import PlannerSettings


@dataclass
class Budget:
    max_llm_steps: int
    max_tool_calls: int
    deadline_seconds: float
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)
    llm_steps: int = field(default=0, init=False)
    tool_calls: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.max_llm_steps < 2:
            raise ValueError("max_llm_steps must leave one step for the final answer (>= 2)")
        if self.max_tool_calls < 1 or self.deadline_seconds <= 0:
            raise ValueError("max_tool_calls and deadline_seconds must be positive")
        self.started = self.clock()

    @classmethod
    def from_settings(
        cls, settings: PlannerSettings, clock: Callable[[], float] = time.monotonic
    ) -> Budget:
        return cls(
            settings.max_llm_steps, settings.max_tool_calls, settings.deadline_seconds, clock
        )

    @property
    def deadline(self) -> float:
        """The deadline on ``clock``'s scale (``time.monotonic`` by default)."""
        return self.started + self.deadline_seconds

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - self.clock())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def can_plan(self) -> bool:
        """Whether another tool-using LLM step fits (one step stays reserved to finalize)."""
        return self.llm_steps < self.max_llm_steps - 1 and not self.expired()

    def can_finalize(self) -> bool:
        """Whether the reserved finalization call is still available."""
        return self.llm_steps < self.max_llm_steps and not self.expired()

    def can_call_tool(self) -> bool:
        return self.tool_calls < self.max_tool_calls and not self.expired()

    def spend_step(self) -> None:
        self.llm_steps += 1

    def spend_tool_call(self) -> None:
        self.tool_calls += 1

    def exhausted_reason(self) -> str:
        """What ran out, in words for the trace and the model."""
        if self.expired():
            return f"the {self.deadline_seconds:g} s deadline passed"
        if self.tool_calls >= self.max_tool_calls:
            return f"all {self.max_tool_calls} tool calls were used"
        return f"all {self.max_llm_steps - 1} planning steps were used"
