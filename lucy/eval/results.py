"""What an eval run produces: per retriever, per query, the ranking and its latency."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lucy.eval.datasets import Dataset


@dataclass(frozen=True)
class QueryOutcome:
    id: str
    query: str
    relevant: tuple[str, ...]
    ranked: tuple[str, ...]
    ms: float


@dataclass
class RetrieverRun:
    name: str
    build_s: float
    outcomes: list[QueryOutcome] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    """Cold single-query timings of the latency pass; empty: the outcomes' own ``ms``."""


@dataclass
class EvalRun:
    dataset: Dataset
    ks: list[int]
    runs: list[RetrieverRun]
    created: str
    setup: dict[str, Any] = field(default_factory=dict)
    """What produced the run (``lucy.eval.setup.run_setup``)."""
