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
    similarity: Mapping[str, float] | None = None,
) -> list[Scored]:
    """Reciprocal-rank fusion, normalised so a tool first in both rankings scores 1.0.
    Hits whose payload is unknown (a version swapped mid-request) are dropped."""
    k = weights.rrf_k
    ceiling = (weights.dense_weight + weights.sparse_weight) / (k + 1) or 1.0
    fused: dict[str, float] = {}
    for hits, weight in ((dense, weights.dense_weight), (sparse, weights.sparse_weight)):
        for rank, hit in enumerate(hits, start=1):
            fused[hit.id] = fused.get(hit.id, 0.0) + weight / (k + rank)
    return _ranked(fused, ceiling, payloads, dense, similarity)


def fuse_minmax(
    dense: Sequence[Hit],
    sparse: Sequence[Hit],
    weights: RetrievalWeights,
    payloads: Mapping[str, dict[str, Any]],
    similarity: Mapping[str, float] | None = None,
) -> list[Scored]:
    """Score fusion: each ranking's scores scaled to 0..1 by its own min and max, then
    weighted and averaged. Unlike RRF it keeps how far ahead a ranking's leaders are, so a
    confident ranking (BM25 on a word-for-word request, dense on a paraphrase) leads."""
    total = weights.dense_weight + weights.sparse_weight or 1.0
    fused: dict[str, float] = {}
    for hits, weight in ((dense, weights.dense_weight), (sparse, weights.sparse_weight)):
        if not hits:
            continue
        high, low = hits[0].score, hits[-1].score
        span = high - low
        for hit in hits:
            scaled = (hit.score - low) / span if span > 0 else 1.0
            fused[hit.id] = fused.get(hit.id, 0.0) + weight * scaled
    return _ranked(fused, total, payloads, dense, similarity)


def _ranked(
    fused: Mapping[str, float],
    scale: float,
    payloads: Mapping[str, dict[str, Any]],
    dense: Sequence[Hit],
    similarity: Mapping[str, float] | None,
) -> list[Scored]:
    if similarity is None:
        similarity = {hit.id: hit.score for hit in dense}
    out = [
        Scored(i, payloads[i], s / scale, s / scale, similarity.get(i, 0.0))
        for i, s in fused.items()
        if i in payloads
    ]
    out.sort(key=lambda s: (-s.score, s.id))
    return out


def fuse(
    dense: Sequence[Hit],
    sparse: Sequence[Hit],
    weights: RetrievalWeights,
    payloads: Mapping[str, dict[str, Any]],
    similarity: Mapping[str, float] | None = None,
) -> list[Scored]:
    """The fusion the weights name (``minmax`` or ``rrf``). ``similarity``: the cosine each
    candidate carries (default: its dense score)."""
    method = fuse_minmax if weights.fusion == "minmax" else fuse_rrf
    return method(dense, sparse, weights, payloads, similarity)


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
    *,
    verb_scale: float = 1.0,
) -> float:
    """What the cheap signals add: toolkit named, verb agreement, object named, usage.

    ``verb_scale`` (0..1) scales every verb term (see ``verb_coverage``)."""
    bonus = 0.0
    if payload["toolkit"] in intent.toolkits:
        bonus += weights.toolkit_mention_boost
    tags = payload.get("tags", {})
    tool_verbs: list[str] = list(tags.get("verbs", ()))
    if intent.verb is not None and tool_verbs:
        if intent.verb in tool_verbs:
            bonus += verb_scale * weights.verb_match_boost
        elif VERB_FAMILY.get(intent.verb) in {VERB_FAMILY.get(v) for v in tool_verbs}:
            bonus += verb_scale * weights.verb_family_boost
        else:
            bonus -= verb_scale * weights.verb_mismatch_penalty
    if intent.objects.intersection(tags.get("objects", ())):
        bonus += weights.object_match_boost
    bonus += weights.usage_prior_weight * priors.get(str(payload["slug"]), 0.0)
    return bonus


def verb_coverage(items: Sequence[Scored]) -> float:
    """The share of candidates whose tags name a verb.

    A verb match separates candidates only when they can be compared on it: where most
    candidates have no known verb (tools named ``airqualityforeast``), matching the few that
    do is a bias toward whichever names happened to parse, not evidence about the request."""
    if not items:
        return 0.0
    known = sum(1 for s in items if s.payload.get("tags", {}).get("verbs"))
    return known / len(items)


def rescore(
    items: Sequence[Scored],
    intent: RequestIntent,
    weights: RetrievalWeights,
    priors: Mapping[str, float],
) -> list[Scored]:
    """Fused score plus the signals; verb terms scaled by the pool's ``verb_coverage``."""
    scale = verb_coverage(items)
    out = [
        replace(
            s,
            score=s.fused + signal_bonus(s.payload, intent, weights, priors, verb_scale=scale),
        )
        for s in items
    ]
    out.sort(key=lambda s: (-s.score, s.id))
    return out


def merge_parts(
    whole: Sequence[Scored],
    parts: Sequence[Sequence[Scored]],
    k: int,
    *,
    leader_margin: float = 0.0,
    part_penalty: float = 0.0,
    commands: Sequence[bool] = (),
) -> list[tuple[int | None, Scored]]:
    """The shortlist of a request split into parts: the whole request's best tool, then each
    part's best (so every intent reaches the top k), then the rest by their best score.

    A part's best opens the list only if the part asks for an action (``commands[i]``:
    "what's on my calendar", "I would like to borrow a book") or its dense similarity is at
    least the whole request's best's minus ``leader_margin`` (a weak part, e.g. a second
    sentence that only adds context, does not push tools ahead). In the rest, a score found
    by a part counts ``part_penalty`` less than one found by the whole request. Returns (part
    index, or None for the whole request, item) without repeats."""
    best: dict[str, tuple[int | None, Scored, float]] = {}
    for index, ranking in [(None, whole), *enumerate(parts)]:
        for item in ranking:
            rank_score = item.score - (0.0 if index is None else part_penalty)
            if item.id not in best or rank_score > best[item.id][2]:
                best[item.id] = (index, item, rank_score)
    out: list[tuple[int | None, Scored]] = []
    seen: set[str] = set()
    leaders: list[tuple[int | None, Scored]] = [(None, whole[0])] if whole else []
    floor = whole[0].similarity - leader_margin if whole else None
    leaders += [
        (i, ranking[0])
        for i, ranking in enumerate(parts)
        if ranking
        and (floor is None or ranking[0].similarity >= floor or (i < len(commands) and commands[i]))
    ]
    for index, item in leaders:
        if item.id not in seen:
            seen.add(item.id)
            out.append((index, item))
    rest = sorted(best.values(), key=lambda entry: (-entry[2], entry[1].id))
    out += [(index, item) for index, item, _ in rest if item.id not in seen]
    return out[:k]


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
