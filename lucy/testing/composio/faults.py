"""The Composio double's fault switches: rules (what to answer instead, on which endpoints,
how often), latencies, and their seeded matching.

A rule with ``count=n`` fires on the next n matching requests, one with ``rate=p`` on each
with probability p (drawn from the seeded ``random.Random``), one with neither on every one.
`Faults` is guarded by the double's `State` lock: whoever reads or changes it holds that lock.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from lucy.testing.composio.state import ALL_ENDPOINTS

Action = Literal["status", "malformed", "tool_failure"]


@dataclass
class Rule:
    """One fault: what to answer, on which endpoints, how often."""

    action: Action
    endpoints: frozenset[str]
    count: int | None
    rate: float
    status: int = 503
    retry_after: float | None = None
    message: str = ""

    @property
    def name(self) -> str:
        """What `fault_counts` calls it: the status (``"503"``, ``"429"``) or the action."""
        return str(self.status) if self.action == "status" else self.action

    def fires(self, rng: random.Random) -> bool:
        if self.count is not None:
            if self.count <= 0:
                return False
            self.count -= 1
            return True
        return rng.random() < self.rate


def make_rule(
    action: Action,
    endpoints: Iterable[str],
    count: int | None,
    rate: float | None,
    status: int,
    retry_after: float | None,
    message: str,
) -> Rule:
    """A rule, after checking its arguments (ValueError for a bad one)."""
    if count is not None and rate is not None:
        raise ValueError("give count or rate, not both")
    if count is not None and count < 0:
        raise ValueError("count must be >= 0")
    if rate is not None and not 0.0 <= rate <= 1.0:
        raise ValueError("rate must be within 0..1")
    if retry_after is not None and retry_after < 0:
        raise ValueError("retry_after must be >= 0")
    return Rule(
        action=action,
        endpoints=check_endpoints(endpoints),
        count=count,
        rate=1.0 if rate is None else rate,
        status=status,
        retry_after=retry_after,
        message=message,
    )


def check_endpoints(names: Iterable[str]) -> frozenset[str]:
    """``names`` as a set, each an endpoint the double serves (ValueError otherwise)."""
    chosen = frozenset(names)
    unknown = chosen - ALL_ENDPOINTS
    if unknown:
        raise ValueError(f"unknown endpoints: {sorted(unknown)}; known: {sorted(ALL_ENDPOINTS)}")
    return chosen


@dataclass
class Faults:
    """The rules and latencies in play, and the faults played so far."""

    rng: random.Random
    rules: list[Rule] = field(default_factory=list)
    latency: dict[str, float] = field(default_factory=dict)
    played: Counter[str] = field(default_factory=Counter)

    def pick(self, endpoint: str) -> Rule | None:
        """The first rule for ``endpoint`` that fires on this request (counted as played)."""
        for rule in self.rules:
            if endpoint in rule.endpoints and rule.fires(self.rng):
                self.played[rule.name] += 1
                return rule
        return None

    def clear(self) -> None:
        """Remove every rule and latency (the played counts stay)."""
        self.rules.clear()
        self.latency.clear()
