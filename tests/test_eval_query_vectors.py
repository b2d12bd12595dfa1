"""Query vectors shared by a run's retrievers, and the split into latency and ranking passes."""

from __future__ import annotations

from pathlib import Path

from lucy.eval.datasets import EvalQuery, load_dataset
from lucy.eval.query_vectors import PrecomputedQueries
from lucy.eval.report import summarize
from lucy.eval.runner import EMBED_TASK, latency_sample, run_eval
from tests.recording import Recording

SMALL = Path(__file__).parent / "data" / "eval_small"


def test_precomputed_vectors_are_served_from_memory() -> None:
    inner = Recording()
    shared = PrecomputedQueries(inner)
    steps: list[tuple[int, int]] = []
    texts = ["a", "bb", "a", *[f"q{i}" for i in range(300)]]
    shared.precompute(texts, lambda done, total: steps.append((done, total)))
    assert shared.held == 302
    assert steps == [(256, 302), (302, 302)]  # in batches, each text once
    inner.asked.clear()

    assert shared.encode_queries(["bb", "a"]) == [[2.0, 0.0], [1.0, 0.0]]
    assert inner.asked == []  # from memory
    assert shared.encode_queries(["new", "a", "new"]) == [[3.0, 0.0], [1.0, 0.0], [3.0, 0.0]]
    assert inner.asked == [["new"]]  # only what it does not hold, once

    shared.active = False
    inner.asked.clear()
    assert shared.encode_query("a") == [1.0, 0.0]
    assert inner.asked == [["a"]] and shared.passed_through == 1  # inactive: the model answers
    assert shared.encode_documents(["doc"]) == [[3.0, 1.0]]


def test_latency_sample_is_spread_over_the_file() -> None:
    queries = [EvalQuery(str(i), f"q{i}", ("t",)) for i in range(10)]
    assert [q.id for q in latency_sample(queries, 4)] == ["0", "2", "5", "7"]
    assert latency_sample(queries, 50) == queries


def test_runs_rank_alike_with_and_without_precomputed_vectors(tmp_path: Path, embedder) -> None:
    data = load_dataset(SMALL)
    names = ["dense", "hybrid", "lucy"]
    recording = Recording(embedder)
    seen: dict[str, int] = {}
    sampled = run_eval(
        data,
        names,
        [1, 5],
        embedder=recording,
        cache_dir=tmp_path,
        latency_queries=3,
        progress=lambda name, done, total: seen.__setitem__(name, total),
    )
    calls = recording.asked
    # dense: three cold queries, then every query (and lucy's parts) embedded once, in one
    # batch; hybrid and lucy: their three cold queries only
    timed = [[q.query] for q in latency_sample(data.queries, 3)]
    assert calls[:3] == timed
    assert set(calls[3]) >= {q.query for q in data.queries} and len(calls[3]) == seen[EMBED_TASK]
    assert len(calls) == 3 + 1 + 3 + 3
    assert [c[0] for c in calls[4:]] == [c[0] for c in timed] * 2

    every = run_eval(data, names, [1, 5], embedder=embedder, cache_dir=tmp_path, latency_queries=0)
    for a, b in zip(sampled.runs, every.runs, strict=True):
        assert [o.ranked for o in a.outcomes] == [o.ranked for o in b.outcomes], a.name
        assert len(a.latency_ms) == 3 and b.latency_ms == []
    report = summarize(sampled)["retrievers"]
    assert {r["latency_queries"] for r in report.values()} == {3}
    assert summarize(every)["retrievers"]["lucy"]["latency_queries"] == len(data.queries)


def test_a_run_without_query_embeddings_precomputes_none(tmp_path: Path, embedder) -> None:
    recording = Recording(embedder)
    run_eval(load_dataset(SMALL), ["bm25"], [5], embedder=recording, cache_dir=tmp_path)
    assert recording.asked == []
