"""Retrieval metrics (pure). Definitions follow COLT: binary gains, Recall@K over the relevant
set, COMP@K = 1 when every relevant tool is in the top K."""

from __future__ import annotations

import math
from collections.abc import Sequence


def recall_at(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    rel = set(relevant)
    return len(rel.intersection(ranked[:k])) / len(rel) if rel else 0.0


def precision_at(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    return len(set(relevant).intersection(ranked[:k])) / k


def ndcg_at(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    rel = set(relevant)
    dcg = sum(1.0 / math.log2(i + 2) for i, name in enumerate(ranked[:k]) if name in rel)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(rel))))
    return dcg / ideal if ideal else 0.0


def comp_at(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    return 1.0 if set(relevant) <= set(ranked[:k]) else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: Sequence[str]) -> float:
    rel = set(relevant)
    return next((1.0 / (i + 1) for i, name in enumerate(ranked) if name in rel), 0.0)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def query_metrics(
    ranked: Sequence[str], relevant: Sequence[str], ks: Sequence[int]
) -> dict[str, float]:
    """Every metric of one query, keyed ``recall@5``, ``precision@5``, ``ndcg@5``, ``comp@5``,
    ``mrr``."""
    out: dict[str, float] = {}
    for k in ks:
        out[f"recall@{k}"] = recall_at(ranked, relevant, k)
        out[f"precision@{k}"] = precision_at(ranked, relevant, k)
        out[f"ndcg@{k}"] = ndcg_at(ranked, relevant, k)
        out[f"comp@{k}"] = comp_at(ranked, relevant, k)
    out["mrr"] = reciprocal_rank(ranked, relevant)
    return out


def mean_metrics(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {key: sum(r[key] for r in rows) / len(rows) for key in rows[0]}
