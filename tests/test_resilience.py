"""Retry policy, timeouts, breakers and the executor, on a fake clock with scripted providers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lucy.models import ToolErrorKind, ToolSpec
from lucy.providers.base import CallContext, ProviderCallError
from lucy.providers.resilience import (
    Backoff,
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    Outcome,
    ResiliencePolicy,
    RetryPolicy,
    RetryRule,
    TimeoutPolicy,
    ToolExecutor,
    error_for_status,
    outcome_of,
    parse_retry_after,
)

K = ToolErrorKind
READ = ToolSpec(
    slug="DEMO_LIST_THINGS", toolkit="demo", name="List", description="", read_only=True
)
WRITE = ToolSpec(slug="DEMO_CREATE_THING", toolkit="demo", name="Create", description="")


class FakeClock:
    """A monotonic clock that only moves when told to; ``sleep`` moves it and is recorded."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[tuple[float, float]] = []  # (started at, seconds)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append((self.now, seconds))
        self.now += seconds


class MaxRandom(random.Random):
    """Always draws the upper bound, to test jitter caps exactly."""

    def uniform(self, a: float, b: float) -> float:
        return b


class ScriptedProvider:
    """Plays one outcome per attempt: an exception to raise, or data to return. Each outcome
    may take ``(seconds, outcome)`` to move the fake clock first. Past the script: ``{"ok": 1}``."""

    name = "fake"
    accepts_idempotency_key = False

    def __init__(self, *script: Any, clock: FakeClock | None = None, hang: bool = False) -> None:
        self.script: Iterator[Any] = iter(script)
        self.clock = clock
        self.hang = hang
        self.calls: list[float] = []

    def supports(self, tool: ToolSpec) -> bool:
        return tool.toolkit == "demo"

    async def execute(self, tool: ToolSpec, arguments: dict[str, Any], context: CallContext) -> Any:
        self.calls.append(self.clock.now if self.clock else 0.0)
        if self.hang:
            await asyncio.Event().wait()
        outcome = next(self.script, {"ok": 1})
        if isinstance(outcome, tuple):
            seconds, outcome = outcome
            assert self.clock is not None
            self.clock.advance(seconds)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def unavailable(retry_after: float | None = None) -> ProviderCallError:
    return ProviderCallError(K.PROVIDER_UNAVAILABLE, "503", status=503, retry_after=retry_after)


def run(executor: ToolExecutor, tool: ToolSpec, clock: FakeClock, *, budget: float = 30.0) -> Any:
    context = CallContext(workspace_id="W1", user_id="U1", deadline=clock.now + budget)
    return asyncio.run(executor.run(tool, {}, context, call_id="c1"))


def executor_for(
    provider: ScriptedProvider, clock: FakeClock, policy: ResiliencePolicy | None = None
) -> ToolExecutor:
    return ToolExecutor([provider], policy, clock=clock, sleep=clock.sleep, rng=random.Random(7))


# --- retry policy ---------------------------------------------------------------------------

POLICY = RetryPolicy()


def delay(kind: ToolErrorKind, attempt: int = 1, **kw: Any) -> float | None:
    args: dict[str, Any] = {"read_only": True, "retry_after": None, "remaining": 30.0}
    args.update(kw)
    return POLICY.next_delay(kind, attempt, rng=MaxRandom(), **args)


@pytest.mark.parametrize("kind", [k for k in ToolErrorKind if not k.retryable])
def test_kinds_that_are_not_retryable_never_retry(kind: ToolErrorKind) -> None:
    assert delay(kind) is None
    assert POLICY.max_attempts(kind, read_only=True) == 1


def test_default_rules_cover_exactly_the_retryable_kinds() -> None:
    retried = {k for k in ToolErrorKind if POLICY.max_attempts(k, read_only=True) > 1}
    assert retried == {k for k in ToolErrorKind if k.retryable}


def test_a_non_retryable_kind_cannot_be_given_retries() -> None:
    with pytest.raises(ValidationError, match="invalid_arguments is not retryable"):
        RetryPolicy(rules={K.INVALID_ARGUMENTS: RetryRule(max_attempts=2)})


def test_provider_unavailable_uses_capped_full_jitter() -> None:
    # MaxRandom draws the bound: 0.2 * 2 ** (attempt - 1), capped at 2 s
    assert delay(K.PROVIDER_UNAVAILABLE, 1) == pytest.approx(0.2)
    assert delay(K.PROVIDER_UNAVAILABLE, 2) == pytest.approx(0.4)
    assert delay(K.PROVIDER_UNAVAILABLE, 3) is None  # three attempts in all
    rule = RetryRule(max_attempts=10, backoff=Backoff.FULL_JITTER, base_seconds=0.2, cap_seconds=2)
    wide = RetryPolicy(rules={K.PROVIDER_UNAVAILABLE: rule})
    assert wide.next_delay(
        K.PROVIDER_UNAVAILABLE, 8, read_only=True, retry_after=None, remaining=60, rng=MaxRandom()
    ) == pytest.approx(2.0)


def test_full_jitter_stays_within_its_bounds() -> None:
    rng = random.Random(1)
    draws = [
        POLICY.next_delay(
            K.PROVIDER_UNAVAILABLE, 2, read_only=True, retry_after=None, remaining=30, rng=rng
        )
        for _ in range(500)
    ]
    assert all(d is not None and 0.0 <= d <= 0.4 for d in draws)
    assert len(set(draws)) > 400  # jittered, not one fixed value


def test_provider_unavailable_waits_at_least_its_retry_after() -> None:
    assert delay(K.PROVIDER_UNAVAILABLE, 1, retry_after=1.5) == pytest.approx(1.5)


def test_rate_limited_honours_retry_after_inside_the_deadline_only() -> None:
    assert delay(K.RATE_LIMITED, 1, retry_after=3.0, remaining=10.0) == 3.0
    assert delay(K.RATE_LIMITED, 1, retry_after=12.0, remaining=10.0) is None
    assert delay(K.RATE_LIMITED, 1, retry_after=9.95, remaining=10.0) is None  # no time to run
    assert delay(K.RATE_LIMITED, 1, retry_after=None) == pytest.approx(0.5)  # jitter instead
    assert delay(K.RATE_LIMITED, 3, retry_after=1.0) is None


def test_timeouts_are_retried_for_read_only_tools_only() -> None:
    assert delay(K.TIMEOUT, 1, read_only=True) == pytest.approx(0.1)
    assert delay(K.TIMEOUT, 2, read_only=True) is None
    assert delay(K.TIMEOUT, 1, read_only=False) is None
    assert POLICY.max_attempts(K.TIMEOUT, read_only=False) == 1


def test_no_retry_starts_if_its_wait_passes_the_deadline() -> None:
    assert delay(K.PROVIDER_UNAVAILABLE, 1, remaining=0.25) is None  # 0.2 wait + 0.1 to run
    assert delay(K.PROVIDER_UNAVAILABLE, 1, remaining=0.35) == pytest.approx(0.2)
    assert delay(K.PROVIDER_UNAVAILABLE, 1, remaining=-1.0) is None


def test_backoff_none_retries_at_once() -> None:
    policy = RetryPolicy(rules={K.TIMEOUT: RetryRule(max_attempts=3)})
    got = policy.next_delay(K.TIMEOUT, 1, read_only=False, retry_after=None, remaining=1.0)
    assert got == 0.0


# --- timeouts -------------------------------------------------------------------------------


def test_timeout_overrides_most_specific_first_and_deadline_caps() -> None:
    policy = TimeoutPolicy(
        default_seconds=10,
        per_provider={"fake": 8},
        per_toolkit={"demo": 5},
        per_tool={"DEMO_LIST_THINGS": 2},
    )
    assert policy.seconds_for(READ, provider="fake") == 2
    assert policy.seconds_for(WRITE, provider="fake") == 5
    other = WRITE.model_copy(update={"toolkit": "other"})
    assert policy.seconds_for(other, provider="fake") == 8
    assert policy.seconds_for(other, provider="composio") == 10
    assert policy.attempt_timeout(READ, provider="fake", remaining=1.5) == 1.5
    assert policy.attempt_timeout(READ, provider="fake", remaining=30) == 2
    with pytest.raises(ValidationError):
        TimeoutPolicy(per_tool={"X": 0})


# --- circuit breaker ------------------------------------------------------------------------

SMALL = BreakerConfig(
    window_size=4,
    min_calls=4,
    failure_rate_threshold=0.5,
    slow_call_rate_threshold=0.75,
    slow_call_seconds=1.0,
    open_seconds=10.0,
    half_open_calls=2,
)


def feed(breaker: CircuitBreaker, *calls: tuple[Outcome, float]) -> None:
    for outcome, seconds in calls:
        permit = breaker.acquire()
        assert permit is not None
        breaker.record(permit, outcome, seconds)


OK, BAD = (Outcome.SUCCESS, 0.1), (Outcome.FAILURE, 0.1)


def test_breaker_opens_on_failure_rate_once_the_window_has_min_calls() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(SMALL, clock=clock)
    feed(breaker, BAD, BAD, BAD)
    assert breaker.state is BreakerState.CLOSED  # 3 calls < min_calls
    feed(breaker, OK)
    assert breaker.state is BreakerState.OPEN  # 3/4 failed
    assert breaker.acquire() is None
    assert breaker.open_for() == 10.0


def test_breaker_window_slides() -> None:
    breaker = CircuitBreaker(SMALL, clock=FakeClock())
    feed(breaker, BAD, OK, OK, OK, OK, BAD, OK)  # at most 1 failure in any last four
    assert breaker.state is BreakerState.CLOSED
    feed(breaker, BAD)  # last four: OK BAD OK BAD
    assert breaker.state is BreakerState.OPEN


def test_breaker_opens_on_slow_call_rate() -> None:
    breaker = CircuitBreaker(SMALL, clock=FakeClock())
    slow = (Outcome.SUCCESS, 1.5)
    feed(breaker, slow, slow, OK, slow)
    assert breaker.state is BreakerState.OPEN


def test_ignored_outcomes_stay_out_of_the_window() -> None:
    breaker = CircuitBreaker(SMALL, clock=FakeClock())
    feed(breaker, *[(Outcome.IGNORED, 0.1)] * 10, BAD, BAD, OK)
    assert breaker.state is BreakerState.CLOSED


def test_half_open_trials_close_the_breaker() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(SMALL, clock=clock)
    feed(breaker, BAD, BAD, BAD, BAD)
    clock.advance(9.9)
    assert breaker.state is BreakerState.OPEN
    clock.advance(0.1)
    assert breaker.state is BreakerState.HALF_OPEN
    first, second = breaker.acquire(), breaker.acquire()
    assert first is not None and second is not None
    assert breaker.acquire() is None  # only two trials at a time
    breaker.record(first, Outcome.SUCCESS, 0.1)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record(second, Outcome.SUCCESS, 0.1)
    assert breaker.state is BreakerState.CLOSED
    feed(breaker, BAD, BAD, BAD)  # the window started empty again
    assert breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize("trial", [(Outcome.FAILURE, 0.1), (Outcome.SUCCESS, 2.0)])
def test_a_failed_or_slow_trial_opens_the_breaker_again(trial: tuple[Outcome, float]) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(SMALL, clock=clock)
    feed(breaker, BAD, BAD, BAD, BAD)
    clock.advance(10)
    feed(breaker, OK, trial)
    assert breaker.state is BreakerState.OPEN
    assert breaker.open_for() == 10.0


def test_an_ignored_trial_frees_its_slot_and_late_results_are_dropped() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(SMALL, clock=clock)
    late = breaker.acquire()  # a call still running while the breaker opens
    assert late is not None
    feed(breaker, BAD, BAD, BAD, BAD)
    clock.advance(10)
    a, b = breaker.acquire(), breaker.acquire()
    assert a is not None and b is not None
    breaker.record(late, Outcome.FAILURE, 0.1)  # from the closed state: dropped
    breaker.record(a, Outcome.IGNORED, 0.1)
    assert breaker.state is BreakerState.HALF_OPEN
    c = breaker.acquire()
    assert c is not None
    breaker.record(b, Outcome.SUCCESS, 0.1)
    breaker.record(c, Outcome.SUCCESS, 0.1)
    assert breaker.state is BreakerState.CLOSED


def test_what_counts_as_a_failure() -> None:
    assert outcome_of(None) is Outcome.SUCCESS
    assert {k for k in ToolErrorKind if outcome_of(k) is Outcome.FAILURE} == {
        K.TIMEOUT,
        K.PROVIDER_UNAVAILABLE,
    }
    assert outcome_of(K.RATE_LIMITED) is Outcome.IGNORED
    assert outcome_of(K.EXECUTION_ERROR) is Outcome.IGNORED
    assert outcome_of(K.PROVIDER_ERROR) is Outcome.SUCCESS  # it answered
    assert outcome_of(K.INVALID_ARGUMENTS) is Outcome.SUCCESS


def test_breaker_config_is_validated() -> None:
    with pytest.raises(ValidationError, match="min_calls"):
        BreakerConfig(window_size=3, min_calls=5)


# --- HTTP status classification -------------------------------------------------------------

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


def test_http_statuses_map_to_kinds() -> None:
    limited = error_for_status(429, {"Retry-After": "7"})
    assert (limited.kind, limited.retry_after, limited.status) == (K.RATE_LIMITED, 7.0, 429)
    for status in (401, 403):
        auth = error_for_status(status, {})
        assert auth.kind is K.AUTH
        assert auth.to_tool_error().details == {"status": status}
    assert error_for_status(404).kind is K.UNKNOWN_TOOL
    assert error_for_status(409).kind is K.PROVIDER_ERROR
    assert error_for_status(400, message="bad q").to_tool_error().message == "bad q"
    for status in (500, 502, 503, 504):
        assert error_for_status(status).kind is K.PROVIDER_UNAVAILABLE
    assert error_for_status(503, {"retry-after": "2"}).retry_after == 2.0


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Mon, 03 Mar 2025 12:00:30 GMT", now=NOW) == 30.0
    assert parse_retry_after("Mon, 03 Mar 2025 11:00:00 GMT", now=NOW) == 0.0  # in the past
    for junk in (None, "", "soon", "-5", "nan", "inf"):
        assert parse_retry_after(junk, now=NOW) is None
    headers = {"RETRY-AFTER": "Mon, 03 Mar 2025 12:01:00 GMT"}
    assert error_for_status(429, headers, now=NOW).retry_after == 60.0


# --- executor -------------------------------------------------------------------------------


def test_succeeds_after_two_503s() -> None:
    clock = FakeClock()
    provider = ScriptedProvider(unavailable(), unavailable(), {"items": [1]}, clock=clock)
    result = run(executor_for(provider, clock), READ, clock)
    assert result.ok and result.data == {"items": [1]}
    assert result.attempts == 3 and len(provider.calls) == 3
    assert len(clock.sleeps) == 2
    assert result.elapsed_ms == pytest.approx(sum(s for _, s in clock.sleeps) * 1000)


def test_a_400_is_not_retried() -> None:
    clock = FakeClock()
    provider = ScriptedProvider(error_for_status(400, message="bad query"), clock=clock)
    result = run(executor_for(provider, clock), READ, clock)
    assert result.error is not None and result.error.kind is K.PROVIDER_ERROR
    assert result.error.details == {"status": 400}
    assert result.attempts == 1 and clock.sleeps == []


def test_a_side_effecting_tool_that_timed_out_is_not_retried() -> None:
    clock = FakeClock()
    provider = ScriptedProvider(TimeoutError(), clock=clock)
    result = run(executor_for(provider, clock), WRITE, clock)
    assert result.error is not None and result.error.kind is K.TIMEOUT
    assert result.attempts == 1


def test_a_read_only_tool_that_timed_out_is_retried() -> None:
    clock = FakeClock()
    provider = ScriptedProvider(TimeoutError(), {"ok": 2}, clock=clock)
    result = run(executor_for(provider, clock), READ, clock)
    assert result.ok and result.attempts == 2


def test_a_provider_slower_than_its_timeout_times_out() -> None:
    clock = FakeClock()
    provider = ScriptedProvider(clock=clock, hang=True)
    policy = ResiliencePolicy(timeouts=TimeoutPolicy(per_tool={READ.slug: 0.01}))
    result = run(executor_for(provider, clock, policy), READ, clock)
    assert result.error is not None and result.error.kind is K.TIMEOUT
    assert result.error.details == {"timeout_seconds": 0.01}
    assert result.attempts == 2  # read-only: retried once, timed out again


def test_an_unexpected_exception_is_an_execution_error() -> None:
    clock = FakeClock()
    provider = ScriptedProvider(ValueError("boom"), clock=clock)
    result = run(executor_for(provider, clock), READ, clock)
    assert result.error is not None and result.error.kind is K.EXECUTION_ERROR
    assert result.error.message == "ValueError: boom"
    assert result.error.details == {"exception": "ValueError"}
    assert result.attempts == 1


def test_retry_after_is_honoured_or_the_call_gives_up() -> None:
    clock = FakeClock()
    limited = ProviderCallError(K.RATE_LIMITED, "slow down", status=429, retry_after=4.0)
    provider = ScriptedProvider(limited, clock=clock)
    result = run(executor_for(provider, clock), READ, clock, budget=30)
    assert result.ok and clock.sleeps == [(1000.0, 4.0)]
    provider = ScriptedProvider(limited, clock=clock)
    result = run(executor_for(provider, clock), READ, clock, budget=3)
    assert result.error is not None and result.error.retry_after == 4.0
    assert result.attempts == 1


def test_a_passed_deadline_exhausts_the_budget_without_calling() -> None:
    clock = FakeClock()
    provider = ScriptedProvider(clock=clock)
    result = run(executor_for(provider, clock), READ, clock, budget=0)
    assert result.error is not None and result.error.kind is K.BUDGET_EXHAUSTED
    assert result.attempts == 0 and provider.calls == []


def test_no_provider_for_the_tool() -> None:
    clock = FakeClock()
    other = ToolSpec(slug="X_DO", toolkit="other", name="x", description="", read_only=True)
    result = run(executor_for(ScriptedProvider(clock=clock), clock), other, clock)
    assert result.error is not None and result.error.kind is K.EXECUTION_ERROR
    assert result.error.message.startswith("no provider can run X_DO")


def test_an_open_breaker_fails_fast_without_calling_the_provider() -> None:
    clock = FakeClock()
    breaker = BreakerConfig(window_size=3, min_calls=3, open_seconds=20)
    policy = ResiliencePolicy(retry=RetryPolicy(rules={}), breaker=breaker)
    provider = ScriptedProvider(unavailable(), unavailable(), unavailable(), clock=clock)
    executor = executor_for(provider, clock, policy)
    for _ in range(3):
        assert run(executor, READ, clock).attempts == 1
    assert executor.breakers.states() == {"fake:demo": BreakerState.OPEN}
    result = run(executor, READ, clock)
    assert result.error is not None and result.error.kind is K.PROVIDER_UNAVAILABLE
    assert result.error.details == {"breaker": "open"}
    assert result.error.retry_after == 20.0
    assert result.attempts == 0 and len(provider.calls) == 3
    clock.advance(20)
    assert executor.breakers.state("fake:demo") is BreakerState.HALF_OPEN
    assert run(executor, READ, clock).ok
    assert run(executor, READ, clock).ok
    assert executor.breakers.state("fake:demo") is BreakerState.CLOSED


def test_a_timeout_the_deadline_cut_short_does_not_count_against_the_provider() -> None:
    clock = FakeClock()
    policy = ResiliencePolicy(breaker=BreakerConfig(window_size=1, min_calls=1))
    executor = executor_for(ScriptedProvider(clock=clock, hang=True), clock, policy)
    result = run(executor, WRITE, clock, budget=0.01)
    assert result.error is not None and result.error.kind is K.TIMEOUT
    assert executor.breakers.state("fake:demo") is BreakerState.CLOSED


# --- property: attempts and sleeps stay within the policy and the deadline ------------------

_errors = st.one_of(
    st.sampled_from(list(ToolErrorKind)).flatmap(
        lambda kind: st.builds(
            ProviderCallError,
            st.just(kind),
            st.just("scripted"),
            retry_after=st.none() | st.floats(0, 20),
        )
    ),
    st.builds(TimeoutError),
    st.builds(RuntimeError, st.just("bug")),
)
_outcomes = st.lists(
    st.tuples(st.floats(0, 5), st.one_of(_errors, st.just({"ok": True}))), max_size=8
)


@settings(max_examples=200, deadline=None)
@given(
    script=_outcomes,
    budget=st.floats(-1, 15),
    read_only=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_attempts_and_sleeps_stay_within_policy_and_deadline(
    script: list[tuple[float, Any]], budget: float, read_only: bool, seed: int
) -> None:
    clock = FakeClock()
    deadline = clock.now + budget
    provider = ScriptedProvider(*script, clock=clock)
    policy = ResiliencePolicy(breaker=BreakerConfig(min_calls=20))  # breaker out of the way
    executor = ToolExecutor(
        [provider], policy, clock=clock, sleep=clock.sleep, rng=random.Random(seed)
    )
    tool = READ if read_only else WRITE
    context = CallContext(workspace_id="W", user_id=None, deadline=deadline)
    result = asyncio.run(executor.run(tool, {}, context, call_id="p"))

    assert result.attempts == len(provider.calls)
    assert all(started < deadline for started in provider.calls)
    assert all(start + seconds <= deadline for start, seconds in clock.sleeps)
    assert len(clock.sleeps) == max(0, result.attempts - 1)
    retry = policy.retry
    most = max(retry.max_attempts(k, read_only=read_only) for k in ToolErrorKind)
    assert result.attempts <= most
    # every failure that was followed by another attempt was allowed a retry by its rule
    for number, (_, outcome) in enumerate(script[: max(0, result.attempts - 1)], start=1):
        kind = _kind_of(outcome)
        assert kind is not None and kind.retryable
        assert number < retry.max_attempts(kind, read_only=read_only)
    if result.attempts and result.attempts <= len(script):
        assert result.ok == (_kind_of(script[result.attempts - 1][1]) is None)


def _kind_of(outcome: Any) -> ToolErrorKind | None:
    if isinstance(outcome, ProviderCallError):
        return outcome.kind
    if isinstance(outcome, TimeoutError):
        return K.TIMEOUT
    if isinstance(outcome, Exception):
        return K.EXECUTION_ERROR
    return None
