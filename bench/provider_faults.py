"""Fault benchmark of the Composio provider: tool-call success while Composio misbehaves a
little, and how much a dead Composio is called while the circuit breaker protects it.

Run from the repository root::

    .venv/bin/python bench/provider_faults.py [--calls 1000] [--storm-calls 1000] [--seed 7]

Everything is real but Composio: ``ToolExecutor`` + ``ComposioProvider`` + the ``composio`` SDK,
over HTTP on loopback to ``lucy.testing.composio_double.ComposioDouble`` (five demo toolkits,
all connected).
Calls pick a tool at random (seeded): ``--read-share`` of them read tools, the rest writes,
arguments filled in from each tool's required parameters. Each call has a real 10 s deadline;
retry waits are cut to at most 50 ms (Retry-After 0 on 429s) so a run takes seconds.

(a) ``--error-rate`` (1%) of executions answered 503 and ``--rate-limit-rate`` (0.5%) answered
    429, seeded at the double: the share of calls that succeed (target >= 99%). A write hit by
    a 503 is not retried (it may have run: Composio takes no idempotency key), so writes are
    reported apart.
(b) every execution answered 503: upstream attempts per call, counted at the double (target
    <= 1.2); the breaker (default ``BreakerConfig``: opens at 50% failures over >= 10 calls,
    stays open 30 s, ``--open-seconds`` to change it) must make most calls fail fast. The figure
    depends on how long the storm lasts against ``open_seconds``: each open period ends with
    ``half_open_calls`` trial calls per breaker (one per provider and toolkit).

With ``--concurrency 1`` (the default) calls run one after another, so the seeded faults fall
on the same calls on every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lucy.models import ToolErrorKind, ToolResult, ToolSpec
from lucy.providers.base import CallContext
from lucy.providers.breaker import BreakerConfig
from lucy.providers.composio import ComposioProvider
from lucy.providers.executor import ResiliencePolicy, ToolExecutor
from lucy.providers.retry import Backoff, RetryPolicy, RetryRule
from lucy.testing.composio_double import TOOLS_EXECUTE, ComposioDouble

K = ToolErrorKind
DEADLINE_SECONDS = 10.0


def quick_retries(open_seconds: float = 30.0) -> ResiliencePolicy:
    """The default retry rules with waits cut to at most 50 ms; the default breaker, open for
    ``open_seconds``."""
    jitter = {"backoff": Backoff.FULL_JITTER, "base_seconds": 0.01, "cap_seconds": 0.05}
    rules = {
        K.RATE_LIMITED: RetryRule(
            max_attempts=3, backoff=Backoff.RETRY_AFTER, base_seconds=0.01, cap_seconds=0.05
        ),
        K.PROVIDER_UNAVAILABLE: RetryRule(max_attempts=3, **jitter),
        K.TIMEOUT: RetryRule(max_attempts=2, read_only_only=True, **jitter),
    }
    breaker = BreakerConfig(open_seconds=open_seconds)
    return ResiliencePolicy(retry=RetryPolicy(rules=rules), breaker=breaker)


def sample_arguments(tool: ToolSpec) -> dict[str, Any]:
    """A value for each required parameter, of its JSON-schema type."""
    properties = tool.parameters.get("properties") or {}
    samples = {"integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {}}
    out: dict[str, Any] = {}
    for name in tool.parameters.get("required") or []:
        kind = (properties.get(name) or {}).get("type", "string")
        out[name] = samples.get(kind if isinstance(kind, str) else "string", "x")
    return out


@dataclass
class Tally:
    calls: int = 0
    ok: int = 0
    attempts: int = 0
    failed_fast: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    outcome_unknown: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, result: ToolResult, elapsed_ms: float) -> None:
        self.calls += 1
        self.attempts += result.attempts
        self.latencies_ms.append(elapsed_ms)
        if result.error is None:
            self.ok += 1
            return
        self.kinds[result.error.kind.value] += 1
        self.failed_fast += result.attempts == 0
        self.outcome_unknown += bool(result.error.details.get("outcome_unknown"))

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms) or [0.0]
        return {
            "calls": self.calls,
            "succeeded": self.ok,
            "success_rate": self.ok / self.calls if self.calls else None,
            "attempts_per_call": self.attempts / self.calls if self.calls else None,
            "failed_fast": self.failed_fast,
            "outcome_unknown": self.outcome_unknown,
            "errors": dict(self.kinds),
            "p50_ms": round(statistics.median(lat), 2),
            "p95_ms": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 2),
        }


async def run_calls(
    executor: ToolExecutor,
    reads: list[ToolSpec],
    writes: list[ToolSpec],
    *,
    calls: int,
    read_share: float,
    rng: random.Random,
    concurrency: int,
) -> dict[str, Tally]:
    plan = [(rng.random() < read_share, rng.random()) for _ in range(calls)]
    tallies = {"read": Tally(), "write": Tally()}
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int, read: bool, pick: float) -> None:
        pool = reads if read else writes
        tool = pool[int(pick * len(pool))]
        user = "U1" if i % 2 else None  # half the calls for a person: their account read too
        async with gate:
            context = CallContext("W1", user, time.monotonic() + DEADLINE_SECONDS)
            began = time.perf_counter()
            result = await executor.run(tool, sample_arguments(tool), context, call_id=f"c{i}")
            elapsed = (time.perf_counter() - began) * 1000.0
        tallies["read" if read else "write"].add(result, elapsed)

    await asyncio.gather(*(one(i, read, pick) for i, (read, pick) in enumerate(plan)))
    return tallies


def both(tallies: dict[str, Tally]) -> Tally:
    total = Tally()
    for part in tallies.values():
        total.calls += part.calls
        total.ok += part.ok
        total.attempts += part.attempts
        total.failed_fast += part.failed_fast
        total.kinds.update(part.kinds)
        total.outcome_unknown += part.outcome_unknown
        total.latencies_ms += part.latencies_ms
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls in (a)")
    parser.add_argument("--storm-calls", type=int, default=1000, help="calls in (b)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--error-rate", type=float, default=0.01, help="share of 503s in (a)")
    parser.add_argument("--rate-limit-rate", type=float, default=0.005, help="429s in (a)")
    parser.add_argument("--read-share", type=float, default=0.8)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument(
        "--open-seconds",
        type=float,
        default=30.0,
        help="breaker open time in (b) (default: BreakerConfig's); small = many half-open trials",
    )
    parser.add_argument("--json", dest="json_path", help="also write the figures here")
    args = parser.parse_args(argv)

    report: dict[str, Any] = {"args": vars(args)}
    with ComposioDouble(page_size=50, seed=args.seed) as double:
        for toolkit in double.toolkit_slugs():
            double.connect("W1", toolkit)
        double.connect("W1:U1", "github")
        provider = ComposioProvider(double.api_key, base_url=double.base_url, timeout_seconds=5.0)
        with provider:
            listing = asyncio.run(provider.list_tools())
            reads = [t for t in listing.tools if t.read_only]
            writes = [t for t in listing.tools if not t.read_only]
            print(
                f"{len(listing.tools)} tools ({len(reads)} read, {len(writes)} write) in "
                f"{len(listing.toolkits)} toolkits; {args.read_share:.0%} of calls are reads; "
                f"concurrency {args.concurrency}; seed {args.seed}"
            )

            # (a) a little of everything going wrong
            double.fail(503, rate=args.error_rate)
            double.rate_limit(rate=args.rate_limit_rate, retry_after=0)
            double.reset_counts()
            began = time.perf_counter()
            tallies = asyncio.run(
                run_calls(
                    ToolExecutor([provider], quick_retries()),
                    reads,
                    writes,
                    calls=args.calls,
                    read_share=args.read_share,
                    rng=random.Random(args.seed),
                    concurrency=args.concurrency,
                )
            )
            seconds = time.perf_counter() - began
            total = both(tallies)
            faults = double.fault_counts()
            upstream = double.count(TOOLS_EXECUTE)
            report["a"] = {
                "all": total.summary(),
                **{k: v.summary() for k, v in tallies.items()},
                "faults_injected": faults,
                "upstream_executions": upstream,
                "seconds": round(seconds, 2),
            }
            print(
                f"\n(a) {args.error_rate:.1%} 503 and {args.rate_limit_rate:.1%} 429 injected: "
                f"{total.calls} calls in {seconds:.1f} s, {upstream} upstream executions, "
                f"faults played {faults}"
            )
            for name, tally in (("all", total), *tallies.items()):
                s = tally.summary()
                print(
                    f"    {name:5}: {s['succeeded']}/{s['calls']} succeeded = "
                    f"{100 * (s['success_rate'] or 0):.2f}%  attempts/call "
                    f"{s['attempts_per_call'] or 0:.3f}  errors {s['errors']}  "
                    f"outcome_unknown {s['outcome_unknown']}  p50 {s['p50_ms']} ms  "
                    f"p95 {s['p95_ms']} ms"
                )
            met = (total.summary()["success_rate"] or 0) >= 0.99
            print(f"    target >= 99%: {'met' if met else 'NOT met'}")

            # (b) Composio down: every execution answered 503
            double.clear_faults()
            double.fail(503)
            double.reset_counts()
            storm_executor = ToolExecutor([provider], quick_retries(args.open_seconds))
            began = time.perf_counter()
            storm = asyncio.run(
                run_calls(
                    storm_executor,
                    reads,
                    writes,
                    calls=args.storm_calls,
                    read_share=args.read_share,
                    rng=random.Random(args.seed + 1),
                    concurrency=args.concurrency,
                )
            )
            seconds = time.perf_counter() - began
            total = both(storm)
            upstream = double.count(TOOLS_EXECUTE)
            per_call = upstream / total.calls if total.calls else 0.0
            report["b"] = {
                "all": total.summary(),
                "upstream_executions": upstream,
                "upstream_per_call": per_call,
                "breakers": {k: v.value for k, v in storm_executor.breakers.states().items()},
                "seconds": round(seconds, 2),
            }
            print(
                f"\n(b) 100% 503, breaker open {args.open_seconds:g} s: {total.calls} calls in "
                f"{seconds:.1f} s, {upstream} upstream "
                f"executions = {per_call:.3f} per call (target <= 1.2: "
                f"{'met' if per_call <= 1.2 else 'NOT met'}); {total.failed_fast} calls failed "
                f"fast (breaker open); succeeded {total.ok}; errors {dict(total.kinds)}"
            )
            print(f"    breakers at the end: {report['b']['breakers']}")
    if args.json_path:
        with open(args.json_path, "w") as out:
            json.dump(report, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
