"""When a failed attempt is tried again, and after how long: the retry policy, as data.

Each ``ToolErrorKind`` maps to a ``RetryRule``; a kind without a rule is never retried. The
defaults follow the design:

===================== ============ ===================================================
kind                  attempts     wait before the next attempt
===================== ============ ===================================================
rate_limited (429)    3            the Retry-After the provider sent (full jitter if none)
provider_unavailable  3            full jitter, 0.2 s doubling to a 2 s cap (never sooner
                                   than a Retry-After the provider sent)
timeout               2            full jitter, 0.1 s doubling to 1 s; read-only tools only:
                                   a side-effecting call that timed out may have happened
everything else       1            (never retried: 4xx, auth, bad arguments, our own bugs)
===================== ============ ===================================================

No retry starts if its wait would run past the request's deadline (leaving less than
``min_attempt_seconds`` for the attempt itself): ``next_delay`` then says stop.
"""

from __future__ import annotations

import random
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lucy.models import ToolErrorKind


class Backoff(StrEnum):
    """How long to wait before the next attempt."""

    NONE = "none"
    """Retry at once."""
    FULL_JITTER = "full_jitter"
    """uniform(0, min(cap, base * 2 ** retry_index)); at least the provider's Retry-After."""
    RETRY_AFTER = "retry_after"
    """Exactly the provider's Retry-After; full jitter when it sent none."""


class RetryRule(BaseModel):
    """How one kind of failure is retried."""

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(1, ge=1, description="Attempts in all, the first included.")
    backoff: Backoff = Backoff.NONE
    base_seconds: float = Field(0.2, ge=0.0, description="Jitter bound of the first retry.")
    cap_seconds: float = Field(2.0, ge=0.0, description="Largest jitter bound.")
    read_only_only: bool = Field(
        False, description="Retry only tools marked read_only (the call may have had effects)."
    )


def _default_rules() -> dict[ToolErrorKind, RetryRule]:
    return {
        ToolErrorKind.RATE_LIMITED: RetryRule(
            max_attempts=3, backoff=Backoff.RETRY_AFTER, base_seconds=0.5, cap_seconds=4.0
        ),
        ToolErrorKind.PROVIDER_UNAVAILABLE: RetryRule(
            max_attempts=3, backoff=Backoff.FULL_JITTER, base_seconds=0.2, cap_seconds=2.0
        ),
        ToolErrorKind.TIMEOUT: RetryRule(
            max_attempts=2,
            backoff=Backoff.FULL_JITTER,
            base_seconds=0.1,
            cap_seconds=1.0,
            read_only_only=True,
        ),
    }


_NEVER = RetryRule()


class RetryPolicy(BaseModel):
    """Per-kind retry rules and the deadline rule; ``next_delay`` is the whole decision."""

    model_config = ConfigDict(frozen=True)

    rules: dict[ToolErrorKind, RetryRule] = Field(default_factory=_default_rules)
    min_attempt_seconds: float = Field(
        0.1, ge=0.0, description="A retry starts only if this much time is left after its wait."
    )

    @model_validator(mode="after")
    def _only_retryable_kinds_retry(self) -> Self:
        for kind, rule in self.rules.items():
            if rule.max_attempts > 1 and not kind.retryable:
                raise ValueError(f"{kind.value} is not retryable; its max_attempts must be 1")
        return self

    def rule(self, kind: ToolErrorKind) -> RetryRule:
        return self.rules.get(kind, _NEVER)

    def max_attempts(self, kind: ToolErrorKind, *, read_only: bool) -> int:
        rule = self.rule(kind)
        return 1 if rule.read_only_only and not read_only else rule.max_attempts

    def next_delay(
        self,
        kind: ToolErrorKind,
        attempt: int,
        *,
        read_only: bool,
        retry_after: float | None,
        remaining: float,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to stop.

        ``attempt`` counts the attempts made so far (1 after the first failure); ``remaining``
        is the time left to the deadline now; ``retry_after`` what the provider asked for.
        """
        if attempt < 1:
            raise ValueError("attempt counts attempts already made and starts at 1")
        rule = self.rule(kind)
        if attempt >= self.max_attempts(kind, read_only=read_only):
            return None
        delay = self._delay(rule, attempt, retry_after, rng)
        if delay + self.min_attempt_seconds > remaining:
            return None
        return delay

    @staticmethod
    def _delay(
        rule: RetryRule, attempt: int, retry_after: float | None, rng: random.Random | None
    ) -> float:
        if rule.backoff is Backoff.NONE:
            return 0.0
        if rule.backoff is Backoff.RETRY_AFTER and retry_after is not None:
            return max(0.0, retry_after)
        bound = min(rule.cap_seconds, rule.base_seconds * 2 ** (attempt - 1))
        uniform = rng.uniform if rng is not None else random.uniform
        jitter = uniform(0.0, bound)
        return max(jitter, retry_after or 0.0)
