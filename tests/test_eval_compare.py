"""Paired bootstrap and report-to-report comparison, on reports written by write_reports."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lucy.errors import InvalidRequestError
from lucy.eval.compare import (
    MetricComparison,
    compare_runs,
    format_comparison,
    load_rankings,
    paired_bootstrap,
)
from lucy.eval.report import write_reports
from tests.test_eval_report import make_run


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reports(make_run(), tmp_path_factory.mktemp("cmp"))["report.json"]


def by_metric(rows: list[MetricComparison]) -> dict[str, MetricComparison]:
    return {r.metric: r for r in rows}


# --- paired_bootstrap ----------------------------------------------------------------------


def test_identical_samples_show_no_difference() -> None:
    a = [0.0, 0.5, 1.0, 1.0, 0.25, 0.0]
    result = paired_bootstrap(a, list(a))
    assert result.diff == 0.0
    assert result.low <= 0.0 <= result.high
    assert result.p_value == 1.0
    assert result.mean_a == result.mean_b == pytest.approx(sum(a) / len(a))
    assert result.n == 6


def test_clearly_better_b() -> None:
    a = list(np.random.default_rng(1).uniform(0, 0.5, size=40))
    b = [x + 0.5 for x in a]
    result = paired_bootstrap(a, b)
    assert result.diff == pytest.approx(0.5)
    assert 0 < result.low <= result.high
    assert result.p_value < 0.05


def test_noisy_but_better_b_and_worse_b() -> None:
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 1, size=40)
    b = a + 0.3 + rng.normal(0, 0.2, size=40)
    better = paired_bootstrap(list(a), list(b))
    assert better.low > 0 and better.p_value < 0.05
    worse = paired_bootstrap(list(b), list(a))
    assert worse.diff == pytest.approx(-better.diff)
    assert worse.high < 0 and worse.p_value < 0.05


def test_small_noisy_difference_is_not_significant() -> None:
    a = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    b = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    result = paired_bootstrap(a, b)
    assert result.low < 0 < result.high
    assert result.p_value > 0.05


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(3)
    a, b = list(rng.uniform(size=30)), list(rng.uniform(size=30))
    assert paired_bootstrap(a, b, seed=7) == paired_bootstrap(a, b, seed=7)
    assert paired_bootstrap(a, b, seed=7) != paired_bootstrap(a, b, seed=8)


def test_bootstrap_on_many_queries_in_chunks() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(0, 2, size=5000).astype(float)
    b = np.where(rng.uniform(size=5000) < 0.1, 1.0, a)
    first = paired_bootstrap(list(a), list(b), resamples=1000, seed=1)
    assert first == paired_bootstrap(list(a), list(b), resamples=1000, seed=1)
    assert first.low > 0 and first.p_value < 0.01


@pytest.mark.parametrize(("a", "b"), [([], []), ([1.0], [1.0, 2.0])])
def test_bootstrap_rejects_bad_lengths(a: list[float], b: list[float]) -> None:
    with pytest.raises(ValueError):
        paired_bootstrap(a, b)


# --- compare_runs --------------------------------------------------------------------------


def test_same_report_defaults_to_lucy_against_the_other(report: Path) -> None:
    rows = compare_runs(report, report, a_retriever=None, b_retriever=None)
    assert [r.metric for r in rows] == [
        *("recall@1", "recall@3", "recall@5", "comp@1", "comp@3", "comp@5"),
        *("ndcg@1", "ndcg@3", "ndcg@5", "precision@1", "precision@3", "precision@5"),
        "mrr",
    ]
    got = by_metric(rows)
    mrr = got["mrr"]  # A = lucy (all relevant first), B = bm25
    assert (mrr.a, mrr.n) == (1.0, 5)
    assert mrr.b == pytest.approx(0.44)
    assert mrr.diff == pytest.approx(-0.56)
    assert mrr.high < 0 and mrr.significant
    recall5 = got["recall@5"]  # bm25 misses one query of five: not enough to be sure
    assert (recall5.a, recall5.b) == (1.0, pytest.approx(0.8))
    assert recall5.high == 0.0 and not recall5.significant


def test_named_retrievers_and_ks(report: Path) -> None:
    rows = compare_runs(report, report, a_retriever="bm25", b_retriever="lucy", ks=[3])
    assert [r.metric for r in rows] == ["recall@3", "comp@3", "ndcg@3", "precision@3", "mrr"]
    recall3 = rows[0]
    assert (recall3.a, recall3.b) == (pytest.approx(0.4), 1.0)
    assert recall3.diff == pytest.approx(0.6)
    assert recall3.low > 0 and recall3.significant


def test_same_retriever_gives_no_difference(report: Path) -> None:
    rows = compare_runs(report, report, a_retriever="bm25", b_retriever="bm25")
    assert all(r.diff == 0.0 and r.p_value == 1.0 and not r.significant for r in rows)


def test_two_reports_pair_shared_queries(tmp_path: Path, report: Path) -> None:
    other = write_reports(make_run(("bm25",), query_ids=("q1", "q2", "q9")), tmp_path)
    rows = by_metric(
        compare_runs(report, other["report.json"], a_retriever=None, b_retriever=None, seed=3)
    )
    assert rows["mrr"].n == 2  # q1 and q2
    assert rows["mrr"].a == 1.0
    assert rows["mrr"].b == pytest.approx((0.5 + 1.0) / 2)
    # the folder holding report.json works as well
    assert compare_runs(
        report.parent, tmp_path, a_retriever=None, b_retriever=None, seed=3
    ) == list(rows.values())


def test_no_shared_query_is_an_error(tmp_path: Path, report: Path) -> None:
    run = make_run(("bm25",), query_ids=("q1",))
    run.runs[0].outcomes = [replace(o, id="zz") for o in run.runs[0].outcomes]
    other = write_reports(run, tmp_path)["report.json"]
    with pytest.raises(InvalidRequestError, match="share no query"):
        compare_runs(report, other, a_retriever=None, b_retriever=None)


def test_unknown_retriever_is_an_error(report: Path) -> None:
    with pytest.raises(InvalidRequestError, match="'colbert'") as info:
        compare_runs(report, report, a_retriever="colbert", b_retriever=None)
    assert "lucy" in str(info.value)


def test_missing_or_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="does not exist"):
        load_rankings(tmp_path / "report.json")
    paths = write_reports(make_run(), tmp_path / "r")
    rankings = paths["rankings.jsonl"]
    good = rankings.read_text()
    rankings.write_text(good + '{"retriever": "lucy", "id": "q7", "ranked": "email"}\n')
    with pytest.raises(InvalidRequestError, match=r"rankings\.jsonl:11"):
        load_rankings(paths["report.json"])
    rankings.write_text("{oops\n")
    with pytest.raises(InvalidRequestError, match=r"rankings\.jsonl:1: not JSON"):
        load_rankings(paths["report.json"])
    rankings.unlink()
    with pytest.raises(InvalidRequestError, match=r"rankings\.jsonl does not exist"):
        load_rankings(paths["report.json"])
    paths["report.json"].write_text(json.dumps({"ks": [], "retrievers": {}}))
    with pytest.raises(InvalidRequestError, match="not an eval report"):
        compare_runs(paths["report.json"], paths["report.json"], a_retriever=None, b_retriever=None)


def test_format_comparison(report: Path) -> None:
    rows = compare_runs(report, report, a_retriever=None, b_retriever=None)
    text = format_comparison(rows, "lucy", "bm25")
    lines = text.splitlines()
    assert "paired over 5 queries" in lines[0]
    assert lines[2] == "| metric | A: lucy | B: bm25 | diff | 95% CI | p | B is |"
    mrr = next(line for line in lines if line.startswith("| mrr |"))
    cells = [c.strip() for c in mrr.strip("|").split("|")]
    assert cells[:4] == ["mrr", "100.0", "44.0", "-56.0"]
    assert cells[4].startswith("[-") and cells[4].endswith("]")
    assert cells[6] == "worse"
    recall5 = next(line for line in lines if line.startswith("| recall@5 |"))
    assert recall5.endswith("| no clear difference |")
    flipped = format_comparison(
        compare_runs(report, report, a_retriever="bm25", b_retriever="lucy"), "bm25", "lucy"
    )
    assert next(x for x in flipped.splitlines() if x.startswith("| mrr |")).endswith("| better |")


def test_rankings_survive_unusual_line_breaks_in_queries(tmp_path: Path) -> None:
    run = make_run(("bm25",), query_ids=("q1",))
    run.runs[0].outcomes = [replace(o, query="line\u2028break") for o in run.runs[0].outcomes]
    paths = write_reports(run, tmp_path)
    assert list(load_rankings(paths["report.json"])["bm25"]) == ["q1"]
