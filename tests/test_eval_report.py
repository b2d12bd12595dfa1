"""Eval reports from a small hand-made EvalRun (also used by test_eval_compare)."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from lucy.eval.compare import load_rankings
from lucy.eval.datasets import Dataset, EvalQuery, EvalTool, Problem
from lucy.eval.report import headline_k, summarize, worst_queries, write_reports
from lucy.eval.results import EvalRun, QueryOutcome, RetrieverRun

QUERIES = [
    EvalQuery("q1", "send an email to Ann", ("email",)),
    EvalQuery("q2", "create an invoice and email it", ("invoice", "email")),
    EvalQuery("q3", "weather in Paris", ("weather",)),
    EvalQuery("q4", "book a flight and a hotel", ("flight", "hotel")),
    EvalQuery("q5", "translate | this", ("translate",)),
]

# "lucy" ranks every relevant tool first; "bm25" less so (expected numbers in the tests).
RANKINGS = {
    "lucy": {
        "q1": ("email", "invoice", "weather", "flight", "hotel"),
        "q2": ("invoice", "email", "weather", "flight", "hotel"),
        "q3": ("weather", "email", "invoice", "flight", "hotel"),
        "q4": ("flight", "hotel", "email", "invoice", "weather"),
        "q5": ("translate", "email", "invoice", "weather", "flight"),
    },
    "bm25": {
        "q1": ("invoice", "email", "weather", "flight", "hotel"),
        "q2": ("invoice", "weather", "flight", "hotel", "email"),
        "q3": ("email", "invoice", "flight", "hotel", "translate"),
        "q4": ("email", "flight", "invoice", "weather", "hotel"),
        "q5": ("email", "invoice", "weather", "flight", "translate"),
    },
}
MS = {"lucy": [10.0, 20.0, 30.0, 40.0, 50.0], "bm25": [1.0, 2.0, 3.0, 4.0, 5.0]}
BUILD_S = {"lucy": 2.5, "bm25": 0.1}
KS = [1, 3, 5]


def make_dataset(name: str = "tiny") -> Dataset:
    names = ["email", "invoice", "weather", "flight", "hotel", "translate"]
    tools = [EvalTool(n, f"{n} tool", None, None) for n in names]
    return Dataset(name, tools, list(QUERIES), [Problem("queries.jsonl", 7, "no tool named x")])


def make_run(
    retrievers: tuple[str, ...] = ("lucy", "bm25"), query_ids: tuple[str, ...] | None = None
) -> EvalRun:
    runs = []
    for name in retrievers:
        outcomes = [
            QueryOutcome(q.id, q.query, q.relevant, RANKINGS[name][q.id], MS[name][i])
            for i, q in enumerate(QUERIES)
            if query_ids is None or q.id in query_ids
        ]
        runs.append(RetrieverRun(name, BUILD_S[name], outcomes))
    return EvalRun(make_dataset(), list(KS), runs, "2025-01-02T03:04:05+00:00")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_reports(make_run(), tmp_path_factory.mktemp("report") / "out")


def table_rows(markdown: str, heading: str) -> dict[str, list[str]]:
    """Cells of the table under ``heading``, keyed by the first cell (header row included)."""
    lines = markdown.split(heading, 1)[1].splitlines()
    rows: dict[str, list[str]] = {}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        if line.startswith("|---"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))]
        rows[cells[0]] = cells[1:]
    return rows


def test_summary_dataset_block() -> None:
    data = summarize(make_run())["dataset"]
    assert data == {
        "name": "tiny",
        "tools": 6,
        "queries": 5,
        "single_tool_queries": 3,
        "multi_tool_queries": 2,
        "problems": ["queries.jsonl:7: no tool named x"],
        "problem_count": 1,
    }


def test_summary_keeps_only_fifty_problems() -> None:
    run = make_run()
    run.dataset.problems = [Problem("tools.jsonl", n, "bad") for n in range(1, 61)]
    data = summarize(run)["dataset"]
    assert len(data["problems"]) == 50
    assert data["problem_count"] == 60


def test_summary_perfect_retriever() -> None:
    summary = summarize(make_run())
    assert summary["ks"] == [1, 3, 5]
    assert summary["created"] == "2025-01-02T03:04:05+00:00"
    assert list(summary["retrievers"]) == ["lucy", "bm25"]
    lucy = summary["retrievers"]["lucy"]
    assert lucy["recall@3"] == lucy["recall@5"] == 1.0
    assert lucy["recall@1"] == pytest.approx(0.8)  # the two multi-tool queries get 1/2
    assert lucy["comp@1"] == pytest.approx(0.6)
    assert lucy["comp@3"] == lucy["ndcg@5"] == lucy["mrr"] == 1.0
    assert lucy["precision@1"] == 1.0
    assert lucy["precision@3"] == pytest.approx(7 / 15)
    assert (lucy["p50_ms"], lucy["p95_ms"], lucy["mean_ms"]) == (30.0, 50.0, 30.0)
    assert (lucy["build_s"], lucy["queries"]) == (2.5, 5)


def test_summary_weaker_retriever_and_kinds() -> None:
    bm25 = summarize(make_run())["retrievers"]["bm25"]
    assert bm25["recall@1"] == pytest.approx(0.1)
    assert bm25["recall@3"] == pytest.approx(0.4)
    assert bm25["recall@5"] == pytest.approx(0.8)
    assert bm25["comp@1"] == 0.0
    assert bm25["comp@3"] == pytest.approx(0.2)
    assert bm25["comp@5"] == pytest.approx(0.8)
    assert bm25["mrr"] == pytest.approx((0.5 + 1 + 0 + 0.5 + 0.2) / 5)
    assert (bm25["p50_ms"], bm25["p95_ms"]) == (3.0, 5.0)
    multi, single = bm25["by_kind"]["multi"], bm25["by_kind"]["single"]
    assert (multi["queries"], single["queries"]) == (2, 3)
    assert multi["recall@3"] == pytest.approx(0.5)
    assert multi["comp@5"] == 1.0
    assert single["recall@5"] == pytest.approx(2 / 3)
    metric_keys = {k for k in bm25 if "@" in k} | {"mrr"}
    assert set(multi) == metric_keys | {"queries"}


def test_summary_omits_an_empty_kind_and_handles_no_outcomes() -> None:
    single_only = summarize(make_run(query_ids=("q1", "q3")))["retrievers"]["lucy"]
    assert list(single_only["by_kind"]) == ["single"]
    empty = summarize(make_run(query_ids=()))["retrievers"]["lucy"]
    assert empty["queries"] == 0
    assert empty["recall@5"] == empty["mrr"] == empty["p95_ms"] == 0.0
    assert empty["by_kind"] == {}


def test_worst_queries_order_and_fields() -> None:
    bm25 = make_run().runs[1]
    worst = worst_queries(bm25, 5)
    # recall@5 is 0 only for q3; the rest tie at 1.0 and sort by reciprocal rank, then id
    assert [w["id"] for w in worst] == ["q3", "q5", "q1", "q4", "q2"]
    assert worst[0] == {
        "id": "q3",
        "query": "weather in Paris",
        "expected": ["weather"],
        "got": ["email", "invoice", "flight", "hotel", "translate"],
        "recall@5": 0.0,
    }
    assert [w["id"] for w in worst_queries(bm25, 1, n=2)] == ["q3", "q5"]
    assert len(worst_queries(bm25, 3, n=2)[0]["got"]) == 3


def test_headline_k() -> None:
    assert headline_k([1, 5, 10, 20]) == 10
    assert headline_k([1, 3, 5]) == 5


def test_write_reports_files(written: dict[str, Path]) -> None:
    assert set(written) == {
        "report.json",
        "report.md",
        "report.png",
        "worst.jsonl",
        "rankings.jsonl",
    }
    assert all(p.is_file() and p.parent.name == "out" for p in written.values())
    assert json.loads(written["report.json"].read_text()) == summarize(make_run())


def test_markdown_bold_marks_best_cells(written: dict[str, Path]) -> None:
    md = written["report.md"].read_text()
    assert md.startswith("# Retrieval eval: tiny\n")
    rows = table_rows(md, "## All queries")
    assert rows["retriever"] == [
        *("R@1", "R@3", "R@5", "COMP@1", "COMP@3", "COMP@5", "nDCG@5", "MRR"),
        *("p50 ms", "p95 ms", "build s"),
    ]
    assert rows["lucy"] == [
        *("**80.0**", "**100.0**", "**100.0**", "**60.0**", "**100.0**", "**100.0**"),
        *("**100.0**", "**100.0**", "30.00", "50.00", "2.50"),
    ]
    assert rows["bm25"][:3] == ["10.0", "40.0", "80.0"]
    assert rows["bm25"][7] == "44.0"
    assert rows["bm25"][8:] == ["**3.00**", "**5.00**", "**0.10**"]


def test_markdown_multi_table_bolds_ties(written: dict[str, Path]) -> None:
    rows = table_rows(written["report.md"].read_text(), "## Multi-tool queries (2)")
    assert rows["retriever"][:6] == ["R@1", "R@3", "R@5", "COMP@1", "COMP@3", "COMP@5"]
    assert rows["lucy"][:2] == ["**50.0**", "**100.0**"]
    assert rows["bm25"][:2] == ["25.0", "50.0"]
    assert rows["lucy"][5] == rows["bm25"][5] == "**100.0**"  # both find every tool by 5


def test_markdown_worst_queries(written: dict[str, Path]) -> None:
    md = written["report.md"].read_text()
    section = md.split("## Worst queries (lowest R@5)", 1)[1]
    bm25 = table_rows(section, "### bm25")
    assert list(bm25) == ["id", "q3", "q5", "q1", "q4", "q2"]
    assert bm25["q5"][0] == "translate \\| this"  # pipes escaped
    assert bm25["q3"][1:] == ["weather", "email, invoice, flight, hotel, translate", "0.0"]
    assert "### lucy" in section


def test_single_retriever_has_no_bold(tmp_path: Path) -> None:
    md = write_reports(make_run(("bm25",)), tmp_path)["report.md"].read_text()
    assert "**" not in md.split("## Worst", 1)[0]


def test_markdown_without_multi_tool_queries(tmp_path: Path) -> None:
    md = write_reports(make_run(query_ids=("q1", "q3")), tmp_path)["report.md"].read_text()
    assert "No multi-tool queries" in md


def test_png_is_a_real_image(written: dict[str, Path]) -> None:
    data = written["report.png"].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1100, 450)
    assert len(data) > 20_000


def test_worst_jsonl(written: dict[str, Path]) -> None:
    rows = [json.loads(line) for line in written["worst.jsonl"].read_text().splitlines()]
    assert len(rows) == 10
    bm25 = [r for r in rows if r["retriever"] == "bm25"]
    assert [r["id"] for r in bm25] == ["q3", "q5", "q1", "q4", "q2"]
    assert set(bm25[0]) == {"retriever", "id", "query", "expected", "got", "recall@5"}


def test_rankings_jsonl_round_trips(written: dict[str, Path]) -> None:
    lines = written["rankings.jsonl"].read_text().splitlines()
    assert len(lines) == 10
    first: dict[str, Any] = json.loads(lines[0])
    assert first == {
        "retriever": "lucy",
        "id": "q1",
        "query": "send an email to Ann",
        "relevant": ["email"],
        "ranked": list(RANKINGS["lucy"]["q1"]),
        "ms": 10.0,
    }
    loaded = load_rankings(written["report.json"])
    expected = {
        name: {q.id: (q.relevant, RANKINGS[name][q.id]) for q in QUERIES} for name in RANKINGS
    }
    assert loaded == expected


def test_write_reports_creates_nested_folder(tmp_path: Path) -> None:
    paths = write_reports(make_run(), tmp_path / "a" / "b")
    assert paths["report.md"].parent == tmp_path / "a" / "b"
