"""Resilience around every provider: per-attempt timeouts, retries as data, circuit breakers.

The pieces live in small modules; this one is the import point::

    executor = ToolExecutor([DemoProvider()], ResiliencePolicy())
    result = await executor.run(tool, arguments, context, call_id="c1")

- ``retry``: ``RetryPolicy`` (per ``ToolErrorKind`` rules, deadline-aware ``next_delay``)
- ``timeouts``: ``TimeoutPolicy`` (default, per provider / toolkit / tool, capped by deadline)
- ``breaker``: ``CircuitBreakers`` keyed ``provider:toolkit`` and what counts as a failure
- ``executor``: ``ToolExecutor`` and ``ResiliencePolicy``
- ``http_errors``: ``error_for_status`` for the HTTP providers
"""

from __future__ import annotations

from lucy.providers.breaker import (
    BreakerConfig,
    BreakerPermit,
    BreakerState,
    CircuitBreaker,
    CircuitBreakers,
    Outcome,
    outcome_of,
)
from lucy.providers.executor import ResiliencePolicy, ToolExecutor
from lucy.providers.http_errors import error_for_status, parse_retry_after
from lucy.providers.retry import Backoff, RetryPolicy, RetryRule
from lucy.providers.timeouts import TimeoutPolicy

__all__ = [
    "Backoff",
    "BreakerConfig",
    "BreakerPermit",
    "BreakerState",
    "CircuitBreaker",
    "CircuitBreakers",
    "Outcome",
    "ResiliencePolicy",
    "RetryPolicy",
    "RetryRule",
    "TimeoutPolicy",
    "ToolExecutor",
    "error_for_status",
    "outcome_of",
    "parse_retry_after",
]
