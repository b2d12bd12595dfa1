"""Running one tool call: pick the provider, then attempt under breaker, timeout and retries.

``ToolExecutor.run`` never raises for a tool failure: every failure comes back as a
``ToolResult`` with a ``ToolError`` the planner can hand to the model. Exceptions map so:
``ProviderCallError`` → its kind; ``TimeoutError`` (ours or the provider's) → ``timeout``; any
other ``Exception`` → ``execution_error`` naming its type. Cancellation propagates.

Side effects: a tool that is not read-only and failed with a timeout or a 5xx after its request
may have reached the provider is not retried (unless the provider takes the idempotency key
each logical call carries), and its error says ``outcome_unknown``: it may have happened.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lucy.models import ToolError, ToolErrorKind, ToolResult, ToolSpec
from lucy.providers.base import CallContext, ProviderCallError, ToolProvider
from lucy.providers.breaker import (
    BreakerConfig,
    BreakerPermit,
    CircuitBreaker,
    CircuitBreakers,
    Outcome,
    outcome_of,
)
from lucy.providers.retry import RetryPolicy
from lucy.providers.timeouts import TimeoutPolicy

log = logging.getLogger(__name__)


class ResiliencePolicy(BaseModel):
    """Retries, per-attempt timeouts and breakers in one object (fit to nest in Settings)."""

    model_config = ConfigDict(frozen=True)

    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeouts: TimeoutPolicy = Field(default_factory=TimeoutPolicy)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)


class ToolExecutor:
    """Runs tool calls on the first provider that ``supports`` each tool.

    ``clock`` must share ``time.monotonic``'s timeline with ``CallContext.deadline``; ``sleep``
    and ``rng`` are there so tests need neither real waits nor real randomness.
    """

    def __init__(
        self,
        providers: Sequence[ToolProvider],
        policy: ResiliencePolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.providers = tuple(providers)
        self.policy = policy or ResiliencePolicy()
        self.breakers = CircuitBreakers(self.policy.breaker, clock=clock)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()

    def provider_for(self, tool: ToolSpec) -> ToolProvider | None:
        return next((p for p in self.providers if p.supports(tool)), None)

    async def run(
        self, tool: ToolSpec, arguments: dict[str, Any], context: CallContext, *, call_id: str
    ) -> ToolResult:
        """Execute ``tool`` with ``arguments``: data, or an error after the allowed attempts."""
        started = self._clock()
        attempts = 0

        provider = self.provider_for(tool)

        def done(data: Any = None, error: ToolError | None = None) -> ToolResult:
            elapsed_ms = (self._clock() - started) * 1000.0
            return ToolResult(
                call_id=call_id,
                slug=tool.slug,
                provider=provider.name if provider is not None and attempts else None,
                data=data,
                error=error,
                attempts=attempts,
                elapsed_ms=elapsed_ms,
            )

        if provider is None:
            return done(error=_error(ToolErrorKind.EXECUTION_ERROR, _no_provider(tool)))
        key = f"{provider.name}:{tool.toolkit}"
        breaker = self.breakers.get(key)
        configured = self.policy.timeouts.seconds_for(tool, provider=provider.name)
        keyed = provider.accepts_idempotency_key and not tool.read_only
        if keyed and context.idempotency_key is None:
            context = dataclasses.replace(context, idempotency_key=f"lucy-{uuid.uuid4().hex}")
        error: ToolError | None = None
        unknown = False  # a write that may have reached the provider
        while True:
            remaining = context.deadline - self._clock()
            if remaining <= 0:  # before the first attempt, or a sleep overshot
                return done(error=_settled(error, unknown) or _error(_BUDGET, _LATE))
            permit = breaker.acquire()
            if permit is None:
                return done(error=_settled(error, unknown) or _breaker_error(key, breaker))
            attempts += 1
            data, error, sent = await self._attempt(
                provider, tool, arguments, context, breaker, permit, configured, remaining
            )
            if error is None:
                return done(data=data)
            unknown = unknown or (not tool.read_only and sent and error.kind in _MAYBE_RAN)
            if unknown and not keyed:
                return done(error=_settled(error, unknown))
            delay = self.policy.retry.next_delay(
                error.kind,
                attempts,
                read_only=tool.read_only or keyed or not sent,
                retry_after=error.retry_after,
                remaining=context.deadline - self._clock(),
                rng=self._rng,
            )
            if delay is None:
                return done(error=_settled(error, unknown))
            log.info("retrying %s after %s in %.2fs", tool.slug, error.kind.value, delay)
            await self._sleep(delay)

    async def _attempt(
        self,
        provider: ToolProvider,
        tool: ToolSpec,
        arguments: dict[str, Any],
        context: CallContext,
        breaker: CircuitBreaker,
        permit: BreakerPermit,
        configured: float,
        remaining: float,
    ) -> tuple[Any, ToolError | None, bool]:
        """One attempt: (data, None, True) or (None, error, whether the request was sent)."""
        timeout = min(configured, remaining)
        began = self._clock()
        sent = True
        try:
            async with asyncio.timeout(timeout):
                data = await provider.execute(tool, arguments, context)
        except ProviderCallError as exc:
            error = exc.to_tool_error()
            outcome = outcome_of(error.kind)
            sent = exc.sent
        except TimeoutError:
            cut = timeout < configured
            error = _error(
                ToolErrorKind.TIMEOUT,
                f"{tool.slug} did not answer within {timeout:.3g}s"
                + (" (the time left before the deadline)" if cut else ""),
                timeout_seconds=round(timeout, 3),
            )
            # a timeout the deadline shortened says nothing about the provider's speed
            outcome = Outcome.IGNORED if cut else Outcome.FAILURE
        except Exception as exc:
            log.warning("%s raised while running %s", provider.name, tool.slug, exc_info=True)
            error = _error(
                ToolErrorKind.EXECUTION_ERROR,
                f"{type(exc).__name__}: {exc}",
                exception=type(exc).__name__,
            )
            outcome = outcome_of(error.kind)
        except BaseException:
            # cancelled: release the permit (a half-open trial slot) and let it propagate
            breaker.record(permit, Outcome.IGNORED, self._clock() - began)
            raise
        else:
            breaker.record(permit, Outcome.SUCCESS, self._clock() - began)
            return data, None, True
        breaker.record(permit, outcome, self._clock() - began)
        return None, error, sent


_LATE = "the request's deadline passed before the tool could run"
_BUDGET = ToolErrorKind.BUDGET_EXHAUSTED
# failures after which a write may nonetheless have taken effect at the provider
_MAYBE_RAN = frozenset({ToolErrorKind.TIMEOUT, ToolErrorKind.PROVIDER_UNAVAILABLE})
OUTCOME_UNKNOWN_NOTE = (
    "the request may have reached the service: whether it took effect is unknown. Do not say "
    "it succeeded or failed; tell the user to check before trying again."
)


def _settled(error: ToolError | None, unknown: bool) -> ToolError | None:
    """The last error, marked when a write's outcome is unknown."""
    if error is None or not unknown:
        return error
    details = {**error.details, "outcome_unknown": True, "note": OUTCOME_UNKNOWN_NOTE}
    return error.model_copy(update={"details": details})


def _error(kind: ToolErrorKind, message: str, **details: Any) -> ToolError:
    return ToolError(kind=kind, message=message, details=details)


def _no_provider(tool: ToolSpec) -> str:
    return f"no provider can run {tool.slug} ({tool.toolkit}) here"


def _breaker_error(key: str, breaker: CircuitBreaker) -> ToolError:
    wait = breaker.open_for()
    return ToolError(
        kind=ToolErrorKind.PROVIDER_UNAVAILABLE,
        message=f"{key} has been failing; not calling it for now (circuit breaker)",
        details={"breaker": breaker.state.value},
        retry_after=round(wait, 3) if wait else None,
    )
