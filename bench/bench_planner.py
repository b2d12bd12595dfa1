"""Planner overhead benchmark: the time a /v1/respond turn spends in Lucy, not in the LLM or
the tools.

Run from the repository root::

    .venv/bin/python bench/bench_planner.py [--requests 200] [--out bench/results/planner.json]

The demo catalog is built into a temporary folder; the planner runs with an in-process model
that answers instantly from a script (so LLM time is ~0 and no HTTP client is involved) and
the real executor with the demo provider (its time is the planner's ``tools_ms``, left out).
Four scripted conversations rotate: a calendar week over several pages with a false "that's
all" (the completeness gate fetches more pages), an issue listing, a model that sends an
unknown tool and malformed arguments before a valid call, and a model that repeats one call
until the loop breaks.

Per request: ``overhead = total - llm - tools`` (retrieval included) and
``overhead - retrieval``; per turn, each divided by the request's LLM calls. Two rounds:
``warm`` (query embeddings cached, as for a repeated question) and ``cold`` (the embedder's
cache emptied before every request, so each one runs the model for its query).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lucy.capability_index.embedder import SentenceTransformerEmbedder
from lucy.capability_index.service import CapabilityIndex
from lucy.eval.metrics import percentile
from lucy.models import ToolCall
from lucy.planner.llm import LLMTurn
from lucy.planner.loop import Planner
from lucy.planner.trace import RespondResult
from lucy.providers.demo import DemoProvider
from lucy.providers.executor import ToolExecutor
from lucy.settings import PlannerSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results" / "planner.json"
CALENDAR = "GOOGLECALENDAR_LIST_EVENTS"

Script = Callable[[Sequence[dict[str, Any]]], LLMTurn]


def _call(name: str, arguments: str, n: int) -> LLMTurn:
    return LLMTurn(content=None, tool_calls=[ToolCall(id=f"c{n}", name=name, arguments=arguments)])


def _tools(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["role"] == "tool"]


def calendar_week(messages: Sequence[dict[str, Any]]) -> LLMTurn:
    if not _tools(messages):
        monday = datetime.now(UTC).date() - timedelta(days=datetime.now(UTC).weekday())
        args = {"time_min": f"{monday}T00:00:00Z", "time_max": f"{monday + timedelta(7)}T00:00:00Z"}
        return _call(CALENDAR, json.dumps(args), 1)
    return LLMTurn(content="Here are all your events this week: Daily standup. That's all.")


def issue_listing(messages: Sequence[dict[str, Any]]) -> LLMTurn:
    if not _tools(messages):
        return _call("GITHUB_LIST_ISSUES", '{"owner": "acme", "repo": "web", "state": "open"}', 1)
    return LLMTurn(content="There are open issues in acme/web; the first is listed above.")


def misbehaving(messages: Sequence[dict[str, Any]]) -> LLMTurn:
    seen = len(_tools(messages))
    if seen == 0:
        return _call("GITHUB_DELETE_EVERYTHING", "{}", 1)
    if seen == 1:
        return _call("GITHUB_LIST_ISSUES", '{"owner": "acme", ', 2)
    if seen == 2:
        return _call("GITHUB_LIST_ISSUES", '{"owner": "acme", "repo": "web"}', 3)
    return LLMTurn(content="Here are the issues.")


def repeating(messages: Sequence[dict[str, Any]]) -> LLMTurn:
    if messages[-1]["role"] == "user" and str(messages[-1]["content"]).startswith("[Lucy]"):
        return LLMTurn(content="I kept getting the same page; here it is.")
    return _call(CALENDAR, '{"max_results": 5}', len(messages))


SCENARIOS: list[tuple[str, str, Script]] = [
    ("calendar week, gate", "what's on my calendar this week?", calendar_week),
    ("issue listing", "which issues are open in the acme/web github repo?", issue_listing),
    ("unknown + malformed", "list the open github issues in acme/web", misbehaving),
    ("repeated call", "what's on my calendar today?", repeating),
]


class InstantModel:
    """A ``ChatModel`` answering at once from a script: no HTTP, no tokens."""

    def __init__(self, script: Script) -> None:
        self.script = script

    async def complete(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]], *, timeout: float
    ) -> LLMTurn:
        return self.script(messages)


def run_round(
    index: CapabilityIndex, executor: ToolExecutor, requests: int, *, cold: bool
) -> dict[str, Any]:
    embedder = index.embedder
    assert isinstance(embedder, SentenceTransformerEmbedder)
    per_turn: list[float] = []
    per_turn_no_retrieval: list[float] = []
    per_request: list[float] = []
    turns: list[int] = []

    async def one(i: int) -> RespondResult:
        _, question, script = SCENARIOS[i % len(SCENARIOS)]
        planner = Planner(index, InstantModel(script), executor, PlannerSettings())
        return await planner.respond([{"role": "user", "content": question}], workspace_id="demo")

    async def all_requests() -> None:
        for i in range(requests):
            if cold:
                embedder.clear_cache()
            result = await one(i)
            t = result.trace.timings
            steps = max(1, result.trace.llm_steps)
            overhead = t.total_ms - t.llm_ms - t.tools_ms
            per_request.append(overhead)
            per_turn.append(overhead / steps)
            per_turn_no_retrieval.append((overhead - t.retrieval_ms) / steps)
            turns.append(steps)

    asyncio.run(all_requests())
    return {
        "requests": requests,
        "mean_turns": statistics.fmean(turns),
        "per_turn_ms": summary(per_turn),
        "per_turn_without_retrieval_ms": summary(per_turn_no_retrieval),
        "per_request_ms": summary(per_request),
    }


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lucy-bench-planner-") as tmp:
        index = CapabilityIndex(Settings(data_dir=Path(tmp)))
        started = time.perf_counter()
        index.build()
        print(f"built the demo index in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        executor = ToolExecutor([DemoProvider()])
        run_round(index, executor, 20, cold=False)  # warm-up: imports, validators, caches
        rounds = {
            "warm": run_round(index, executor, args.requests, cold=False),
            "cold": run_round(index, executor, args.requests, cold=True),
        }
        index.close()
    print(f"planner overhead, {args.requests} requests per round, scenarios rotating:")
    print(f"{'round':<6} {'turns':>5}  {'per turn p50/p95 ms':>20}  {'w/o retrieval p50/p95':>22}")
    for name, r in rounds.items():
        a, b = r["per_turn_ms"], r["per_turn_without_retrieval_ms"]
        print(
            f"{name:<6} {r['mean_turns']:>5.2f}  {a['p50']:>9.2f} / {a['p95']:>7.2f}  "
            f"{b['p50']:>10.2f} / {b['p95']:>8.2f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "measured": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "scenarios": [name for name, _, _ in SCENARIOS],
                "rounds": rounds,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
