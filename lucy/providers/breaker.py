"""Circuit breakers, one per key (``provider:toolkit``), over a count-based sliding window.

closed ──(window has ≥ min_calls and failure rate or slow-call rate ≥ its threshold)──▶ open
open ──(open_seconds passed)──▶ half_open: up to ``half_open_calls`` trial calls go through
half_open ──(every trial answered well)──▶ closed (window emptied)
half_open ──(any trial failed or was slow)──▶ open again

What counts (``outcome_of``): a timeout or ``provider_unavailable`` (5xx, connect errors) is a
failure. A 429 is ignored: rate limits are per token or workspace while the breaker is shared by
every workspace, so one busy workspace must not cut the others off. An unexpected exception
(``execution_error``) is ignored too: it is our adapter's bug, not the provider's health. Any
other answer (success, 4xx, auth, invalid arguments) shows the provider is up and counts as a
success. A call slower than ``slow_call_seconds`` is slow whatever its outcome.

Results are recorded against the permit that allowed the call; a result whose permit is from
an earlier state (a call still running when the breaker opened) is dropped.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lucy.models import ToolErrorKind


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Outcome(StrEnum):
    """What one call says about the provider's health."""

    SUCCESS = "success"
    FAILURE = "failure"
    IGNORED = "ignored"


_FAILURES = frozenset({ToolErrorKind.TIMEOUT, ToolErrorKind.PROVIDER_UNAVAILABLE})
_IGNORED = frozenset(
    {
        ToolErrorKind.RATE_LIMITED,
        ToolErrorKind.EXECUTION_ERROR,
        ToolErrorKind.BUDGET_EXHAUSTED,
        ToolErrorKind.LOOP_DETECTED,
    }
)


def outcome_of(kind: ToolErrorKind | None) -> Outcome:
    """How a call that ended with ``kind`` (None: it succeeded) counts for the breaker."""
    if kind in _FAILURES:
        return Outcome.FAILURE
    if kind in _IGNORED:
        return Outcome.IGNORED
    return Outcome.SUCCESS


class BreakerConfig(BaseModel):
    """When a breaker opens and how it recovers."""

    model_config = ConfigDict(frozen=True)

    window_size: int = Field(20, ge=1, description="Calls in the sliding window.")
    min_calls: int = Field(10, ge=1, description="Calls in the window before rates count.")
    failure_rate_threshold: float = Field(0.5, gt=0.0, le=1.0)
    slow_call_rate_threshold: float = Field(0.8, gt=0.0, le=1.0)
    slow_call_seconds: float = Field(5.0, gt=0.0, description="A call longer than this is slow.")
    open_seconds: float = Field(30.0, gt=0.0, description="Time open before trial calls.")
    half_open_calls: int = Field(2, ge=1, description="Trial calls allowed when half open.")

    @model_validator(mode="after")
    def _window_holds_min_calls(self) -> Self:
        if self.min_calls > self.window_size:
            raise ValueError("min_calls cannot exceed window_size")
        return self


@dataclass(frozen=True)
class BreakerPermit:
    """Leave to make one call; hand it back to ``record``."""

    generation: int


class CircuitBreaker:
    """One breaker. Not thread-safe: meant for one event loop."""

    def __init__(self, config: BreakerConfig, *, clock: Callable[[], float]) -> None:
        self._config = config
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._window: deque[tuple[bool, bool]] = deque(maxlen=config.window_size)
        self._opened_at = 0.0
        self._trials_started = 0
        self._trials_passed = 0

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self._config.open_seconds
        ):
            self._enter(BreakerState.HALF_OPEN)
        return self._state

    def open_for(self) -> float:
        """Seconds until an open breaker lets trial calls through (0 when not open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._config.open_seconds - self._clock())

    def acquire(self) -> BreakerPermit | None:
        """A permit for one call, or None: fail fast without calling the provider."""
        state = self.state
        if state is BreakerState.OPEN:
            return None
        if state is BreakerState.HALF_OPEN:
            if self._trials_started >= self._config.half_open_calls:
                return None
            self._trials_started += 1
        return BreakerPermit(self._generation)

    def record(self, permit: BreakerPermit, outcome: Outcome, duration: float) -> None:
        """The result of the call ``permit`` allowed; ``duration`` in seconds."""
        if permit.generation != self._generation:
            return
        slow = duration > self._config.slow_call_seconds
        if self._state is BreakerState.HALF_OPEN:
            self._record_trial(outcome, slow)
        elif outcome is not Outcome.IGNORED:
            self._window.append((outcome is Outcome.FAILURE, slow))
            if self._tripped():
                self._enter(BreakerState.OPEN)

    def _record_trial(self, outcome: Outcome, slow: bool) -> None:
        if outcome is Outcome.IGNORED:
            self._trials_started -= 1  # says nothing: let another trial take its place
        elif outcome is Outcome.FAILURE or slow:
            self._enter(BreakerState.OPEN)
        else:
            self._trials_passed += 1
            if self._trials_passed >= self._config.half_open_calls:
                self._enter(BreakerState.CLOSED)

    def _tripped(self) -> bool:
        calls = len(self._window)
        if calls < self._config.min_calls:
            return False
        failures = sum(1 for failed, _ in self._window if failed)
        slow = sum(1 for _, was_slow in self._window if was_slow)
        return (
            failures / calls >= self._config.failure_rate_threshold
            or slow / calls >= self._config.slow_call_rate_threshold
        )

    def _enter(self, state: BreakerState) -> None:
        self._state = state
        self._generation += 1
        self._trials_started = self._trials_passed = 0
        if state is BreakerState.OPEN:
            self._opened_at = self._clock()
        if state is BreakerState.CLOSED:
            self._window.clear()


class CircuitBreakers:
    """The breakers of every key, created on first use with one config and clock."""

    def __init__(
        self, config: BreakerConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or BreakerConfig()
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, key: str) -> CircuitBreaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = CircuitBreaker(self.config, clock=self._clock)
        return breaker

    def state(self, key: str) -> BreakerState:
        breaker = self._breakers.get(key)
        return BreakerState.CLOSED if breaker is None else breaker.state

    def states(self) -> dict[str, BreakerState]:
        """Every key seen so far and its state (for metrics)."""
        return {key: breaker.state for key, breaker in sorted(self._breakers.items())}
