"""The retriever: hybrid search per intent, fused, re-scored, filtered by connections."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from lucy.capability_index.embedder import Embedder
from lucy.capability_index.intents import embedded_texts, model_inputs, split_intents
from lucy.capability_index.ranking import (
    MissingToolkit,
    Scored,
    fuse,
    merge_best,
    merge_parts,
    missing_toolkits,
    rescore,
)
from lucy.capability_index.snapshot import IndexSnapshot, SnapshotCache
from lucy.capability_index.sparse import SparseEncoder
from lucy.capability_index.store import SearchHits, SparseVec, ToolkitFilter, VectorStore
from lucy.capability_index.tags import IntentOverrides, RequestIntent, analyse_request
from lucy.models import (
    Candidate,
    IntentTags,
    MissingConnection,
    RetrievalResult,
    RetrievalTimings,
)
from lucy.settings import RetrievalWeights

_MISSING_LIMIT = 20


@dataclass(frozen=True)
class RetrievalScope:
    """Whose tools may be returned: ``connected`` None means every toolkit (no auth filter)."""

    connected: frozenset[str] | None
    restrict_to: frozenset[str] | None = None

    @property
    def allowed(self) -> frozenset[str] | None:
        if self.restrict_to is None:
            return self.connected
        if self.connected is None:
            return self.restrict_to
        return self.connected & self.restrict_to


class Retriever:
    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        *,
        live_collection: Callable[[], str],
        snapshots: SnapshotCache,
        weights: RetrievalWeights,
        overrides: IntentOverrides,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._sparse = SparseEncoder()
        self._live = live_collection
        self._snapshots = snapshots
        self._weights = weights
        self._overrides = overrides

    def plan(self, query: str) -> QueryPlan:
        """What ``query`` asks, before any vector: its parts and the texts the model embeds."""
        parts = split_intents(query, self._weights.max_intents)
        texts = embedded_texts(query, parts)
        return QueryPlan(
            started=time.perf_counter(),
            parts=parts,
            texts=texts,
            inputs=model_inputs(texts, self._weights.query_template),
        )

    def retrieve(self, query: str, scope: RetrievalScope, k: int) -> RetrievalResult:
        plan = self.plan(query)
        started_embed = time.perf_counter()
        vectors = self._embedder.encode_queries(plan.inputs)
        return self.rank(plan, vectors, scope, k, embed_seconds=time.perf_counter() - started_embed)

    def rank(
        self,
        plan: QueryPlan,
        vectors: list[list[float]],
        scope: RetrievalScope,
        k: int,
        *,
        embed_seconds: float,
    ) -> RetrievalResult:
        """The result of ``plan`` given the vectors of its ``inputs`` (in order)."""
        collection = self._live()
        snapshot = self._snapshots.get(collection)
        snapshot.check_embedder(self._embedder.model_id)
        names = snapshot.toolkit_names  # every toolkit of the version, with its display name
        parts, texts, started = plan.parts, plan.texts, plan.started
        clock = _Clock(embed=embed_seconds)
        missing: dict[str, MissingToolkit] = {}
        rankings: list[list[Scored]] = []
        template = self._weights.query_template
        asks: list[bool] = []
        for i, text in enumerate(texts):
            # the whole request (i == 0) ranks by its templated vector, the last one embedded
            dense = (
                _DenseQuery(vectors[-1], vectors[0])
                if template and i == 0
                else _DenseQuery(vectors[i], None)
            )
            ranking, found, intent = self._rank(collection, snapshot, text, dense, scope, clock)
            rankings.append(ranking)
            asks.append(intent.asks_action)
            for m in found:
                if m.toolkit not in missing or missing[m.toolkit].score < m.score:
                    missing[m.toolkit] = m
        if len(parts) == 1:
            picked: list[tuple[int | None, Scored]] = [(None, s) for s in rankings[0][:k]]
        else:
            picked = merge_parts(
                rankings[0],
                rankings[1:],
                k,
                leader_margin=self._weights.part_leader_margin,
                part_penalty=self._weights.part_penalty,
                commands=asks[1:],
            )
        candidates = [
            _candidate(item, None if part is None else parts[part]) for part, item in picked
        ]
        ordered_missing = sorted(missing.values(), key=lambda m: -m.score)
        return RetrievalResult(
            candidates=candidates,
            missing_connections=[
                MissingConnection(
                    toolkit=m.toolkit,
                    name=names.get(m.toolkit, m.toolkit),
                    score=round(m.score, 4),
                    example_tools=list(m.tools),
                    reason=m.reason,
                )
                for m in ordered_missing[: self._weights.missing_max_toolkits]
            ],
            index_version=collection,
            intents=parts,
            timings=RetrievalTimings(
                embed_ms=clock.embed * 1000,
                search_ms=clock.search * 1000,
                rescore_ms=clock.rescore * 1000,
                total_ms=(time.perf_counter() - started) * 1000,
            ),
        )

    def _rank(
        self,
        collection: str,
        snapshot: IndexSnapshot,
        part: str,
        dense: _DenseQuery,
        scope: RetrievalScope,
        clock: _Clock,
    ) -> tuple[list[Scored], list[MissingToolkit], RequestIntent]:
        """One intent: the ranked allowed tools, the unconnected toolkits that fit, and what
        the text asks for."""
        t0 = time.perf_counter()
        payloads, priors = snapshot.by_id, snapshot.priors
        sparse = self._sparse.encode_query(part)
        intent = analyse_request(part, self._overrides)
        t1 = time.perf_counter()
        allowed = scope.allowed
        limit = self._weights.prefetch_limit
        hits = dense.search(self._store, collection, sparse, ToolkitFilter(include=allowed), limit)
        named = intent.toolkits if allowed is None else intent.toolkits & allowed
        # a toolkit the request names gets its own search, so its tools are always in the pool
        named_hits = (
            dense.search(self._store, collection, sparse, ToolkitFilter(include=named), limit)
            if named
            else None
        )
        others = None
        if scope.connected is not None and not scope.connected.issuperset(snapshot.toolkit_names):
            others = dense.search(
                self._store,
                collection,
                sparse,
                ToolkitFilter(include=scope.restrict_to, exclude=scope.connected),
                _MISSING_LIMIT,
            )
        t2 = time.perf_counter()
        fused = fuse(hits.dense, hits.sparse, self._weights, payloads, hits.similarity)
        if named_hits is not None:
            fused = merge_best(
                fused,
                fuse(
                    named_hits.dense,
                    named_hits.sparse,
                    self._weights,
                    payloads,
                    named_hits.similarity,
                ),
            )
        ranking = rescore(fused, intent, self._weights, priors)
        found: list[MissingToolkit] = []
        if others is not None:
            unconnected = rescore(
                fuse(others.dense, others.sparse, self._weights, payloads, others.similarity),
                intent,
                self._weights,
                priors,
            )
            best = ranking[0].score if ranking else None
            found = missing_toolkits(unconnected, best, intent, self._weights)
        clock.embed += t1 - t0
        clock.search += t2 - t1
        clock.rescore += time.perf_counter() - t2
        return ranking, found, intent


@dataclass(frozen=True)
class QueryPlan:
    """A request split into its parts, with the texts to embed (``inputs``, in order)."""

    started: float
    parts: list[str]
    texts: list[str]
    inputs: list[str]


@dataclass(frozen=True)
class _DenseQuery:
    """A text's dense vectors: ``ranking`` orders the tools; ``as_written`` (the text without
    the query template, when there is one) gives each hit its similarity."""

    ranking: list[float]
    as_written: list[float] | None

    def search(
        self,
        store: VectorStore,
        collection: str,
        sparse: SparseVec,
        toolkits: ToolkitFilter,
        limit: int,
    ) -> SearchHits:
        return store.search(
            collection, self.ranking, sparse, toolkits, limit, similarity=self.as_written
        )


@dataclass
class _Clock:
    embed: float = 0.0
    search: float = 0.0
    rescore: float = 0.0


def _candidate(item: Scored, intent: str | None) -> Candidate:
    p = item.payload
    return Candidate(
        slug=p["slug"],
        toolkit=p["toolkit"],
        name=p["name"],
        description=p["description"],
        parameters=p["parameters"],
        score=round(item.score, 4),
        similarity=round(item.similarity, 4),
        tags=IntentTags.model_validate(p["tags"]),
        read_only=bool(p["read_only"]),
        destructive=bool(p["destructive"]),
        matched_intent=intent,
    )
