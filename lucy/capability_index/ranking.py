"""Fusion and re-scoring of search hits (pure: no I/O, no model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lucy.capability_index.store import Hit
from lucy.capability_index.tags import RequestIntent
from lucy.capability_index.vocabulary import VERB_FAMILY
from lucy.settings import RetrievalWeights


@dataclass(frozen=True)
class Scored:
    """A tool with its fused score, final score and dense cosine (for confidence)."""

    id: str
    payload: dict[str, Any]
    fused: float
    score: float
    similarity: float

    @property
    def toolkit(self) -> str:
        return str(self.payload["toolkit"])


def fuse_rrf(
    dense: Sequence[Hit],
    sparse: Sequence[Hit],
    weights: RetrievalWeights,
    payloads: Mapping[str, dict[str, Any]],
) -> list[Scored]:
    """Reciprocal-rank fusion, normalised so a tool first in both rankings scores 1.0.
    Hits whose payload is unknown (a version swapped mid-request) are dropped."""
    k = weights.rrf_k
    ceiling = (weights.dense_weight + weights.sparse_weight) / (k + 1) or 1.0
    fused: dict[str, float] = {}
    similarity: dict[str, float] = {}
    for hits, weight in ((dense, weights.dense_weight), (sparse, weights.sparse_weight)):
        for rank, hit in enumerate(hits, start=1):
            fused[hit.id] = fused.get(hit.id, 0.0) + weight / (k + rank)
    for hit in dense:
        similarity[hit.id] = hit.score
    out = [
        Scored(
            id=i,
            payload=payloads[i],
            fused=s / ceiling,
            score=s / ceiling,
            similarity=similarity.get(i, 0.0),
        )
        for i, s in fused.items()
        if i in payloads
    ]
    out.sort(key=lambda s: (-s.score, s.id))
    return out


def merge_best(first: Sequence[Scored], second: Sequence[Scored]) -> list[Scored]:
    """Union of two fused rankings; a tool in both keeps its better fused score."""
    best: dict[str, Scored] = {s.id: s for s in first}
    for item in second:
        mine = best.get(item.id)
        if mine is None or item.fused > mine.fused:
            similarity = max(item.similarity, mine.similarity if mine else 0.0)
            best[item.id] = replace(item, similarity=similarity)
    out = list(best.values())
    out.sort(key=lambda s: (-s.score, s.id))
    return out


def signal_bonus(
    payload: Mapping[str, Any],
    intent: RequestIntent,
    weights: RetrievalWeights,
    priors: Mapping[str, float],
) -> float:
    """What the cheap signals add: toolkit named, verb agreement, object named, usage."""
    bonus = 0.0
    if payload["toolkit"] in intent.toolkits:
        bonus += weights.toolkit_mention_boost
    tags = payload.get("tags", {})
    tool_verbs: list[str] = list(tags.get("verbs", ()))
    if intent.verb is not None and tool_verbs:
        if intent.verb in tool_verbs:
            bonus += weights.verb_match_boost
        elif VERB_FAMILY.get(intent.verb) in {VERB_FAMILY.get(v) for v in tool_verbs}:
            bonus += weights.verb_family_boost
        else:
            bonus -= weights.verb_mismatch_penalty
    if intent.objects.intersection(tags.get("objects", ())):
        bonus += weights.object_match_boost
    bonus += weights.usage_prior_weight * priors.get(str(payload["slug"]), 0.0)
    return bonus


def rescore(
    items: Sequence[Scored],
    intent: RequestIntent,
    weights: RetrievalWeights,
    priors: Mapping[str, float],
) -> list[Scored]:
    out = [
        replace(s, score=s.fused + signal_bonus(s.payload, intent, weights, priors)) for s in items
    ]
    out.sort(key=lambda s: (-s.score, s.id))
    return out


def interleave(rankings: Sequence[Sequence[Scored]], k: int) -> list[tuple[int, Scored]]:
    """Round-robin over per-intent rankings so every intent's best tools make the top ``k``.

    Returns (intent index, item) pairs without repeats.
    """
    seen: set[str] = set()
    out: list[tuple[int, Scored]] = []
    cursors = [0] * len(rankings)
    while len(out) < k and any(c < len(r) for c, r in zip(cursors, rankings, strict=True)):
        for part, ranking in enumerate(rankings):
            while cursors[part] < len(ranking) and ranking[cursors[part]].id in seen:
                cursors[part] += 1
            if cursors[part] < len(ranking) and len(out) < k:
                item = ranking[cursors[part]]
                seen.add(item.id)
                out.append((part, item))
                cursors[part] += 1
    return out


@dataclass(frozen=True)
class MissingToolkit:
    toolkit: str
    score: float
    tools: tuple[str, ...]
    reason: str


def missing_toolkits(
    unconnected: Sequence[Scored],
    best_connected: float | None,
    intent: RequestIntent,
    weights: RetrievalWeights,
) -> list[MissingToolkit]:
    """Unconnected toolkits that fit strongly: named in the request, or outranking everything
    the caller has connected with a dense similarity above the floor."""
    by_toolkit: dict[str, list[Scored]] = {}
    for item in unconnected:
        by_toolkit.setdefault(item.toolkit, []).append(item)
    found: list[MissingToolkit] = []
    for toolkit, items in by_toolkit.items():
        best = max(items, key=lambda s: s.score)
        tools = tuple(str(s.payload["slug"]) for s in items[:3])
        if toolkit in intent.toolkits:
            found.append(MissingToolkit(toolkit, best.score, tools, "named in the request"))
        elif best.similarity >= weights.missing_min_similarity and (
            best_connected is None or best.score > best_connected
        ):
            found.append(
                MissingToolkit(toolkit, best.score, tools, "fits better than any connected tool")
            )
    found.sort(key=lambda m: -m.score)
    return found[: weights.missing_max_toolkits]


def usage_priors(counts: Mapping[str, int]) -> dict[str, float]:
    """Call counts → priors in [0, 1] on a log scale (the most used tool gets 1)."""
    import math

    top = max(counts.values(), default=0)
    if top <= 0:
        return {}
    scale = math.log1p(top)
    return {slug: math.log1p(max(0, n)) / scale for slug, n in counts.items()}
