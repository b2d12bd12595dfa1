"""The dataset reader and the metric definitions (checked against the shared reference)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lucy.errors import InvalidRequestError
from lucy.eval.corpus import to_catalog, tool_text
from lucy.eval.datasets import load_dataset
from lucy.eval.metrics import (
    comp_at,
    mean_metrics,
    ndcg_at,
    percentile,
    precision_at,
    query_metrics,
    recall_at,
    reciprocal_rank,
)

SMALL = Path(__file__).parent / "data" / "eval_small"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def test_reader_reports_problems_and_keeps_going() -> None:
    data = load_dataset(SMALL)
    assert [t.name for t in data.tools][:2] == ["getWeather", "getForecast"]
    assert len(data.tools) == 10
    assert [q.id for q in data.queries] == [f"q{i}" for i in range(1, 10)]
    q9 = next(q for q in data.queries if q.id == "q9")
    assert q9.relevant == ("getForecast",)  # the unknown label is dropped, the query kept
    text = "\n".join(map(str, data.problems))
    for expected in (
        "tools.jsonl:11: not JSON",
        "tools.jsonl:12: duplicate tool name 'getWeather'",
        "tools.jsonl:13: tool without a name",
        "queries.jsonl:9: query q9: no tool named ['noSuchTool']",
        "queries.jsonl:10: query q10: no relevant tool left",
        "queries.jsonl:11: duplicate query id 'q1'",
        "queries.jsonl:12: query needs a string id",
        "queries.jsonl:13: not JSON",
    ):
        assert expected in text


def test_reader_refuses_missing_or_empty(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="does not exist"):
        load_dataset(tmp_path)
    (tmp_path / "tools.jsonl").write_text("garbage\n")
    (tmp_path / "queries.jsonl").write_text("")
    with pytest.raises(InvalidRequestError, match="0 usable tools"):
        load_dataset(tmp_path)


def test_content_hash_follows_tools_only() -> None:
    a = load_dataset(SMALL)
    b = load_dataset(SMALL)
    b.queries = b.queries[:2]
    assert a.content_hash == b.content_hash
    b.tools[0] = type(b.tools[0])("getWeather", "changed", None, None)
    assert a.content_hash != b.content_hash


def test_dataset_tools_become_valid_tool_specs() -> None:
    converted = to_catalog(load_dataset(SMALL))
    slugs = {t.slug for t in converted.catalog.tools}
    assert {"GET_WEATHER", "TRANSLATE_TEXT", "CALCULATE_BMI"} <= slugs
    assert converted.slug_to_name["GET_WEATHER"] == "getWeather"
    weather = next(t for t in converted.catalog.tools if t.slug == "GET_WEATHER")
    assert weather.toolkit == "weather" and weather.tags.verbs == ("get",)
    assert "tools" in converted.catalog.toolkits  # tools without a toolkit
    assert "city City name" in tool_text(load_dataset(SMALL).tools[0])


def test_metrics_by_hand() -> None:
    ranked = ["a", "x", "b", "y", "c"]
    rel = ["a", "b", "c", "d"]
    assert recall_at(ranked, rel, 1) == 0.25
    assert recall_at(ranked, rel, 5) == 0.75
    assert precision_at(ranked, rel, 5) == 0.6
    assert comp_at(ranked, rel, 5) == 0.0
    assert comp_at(["b", "a"], ["a", "b"], 2) == 1.0
    assert reciprocal_rank(["x", "y", "a"], rel) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"], rel) == 0.0
    assert ndcg_at(["a", "b"], ["a", "b"], 2) == 1.0
    assert ndcg_at(["x", "a"], ["a"], 2) == pytest.approx(1 / 1.5849625, rel=1e-6)
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile([], 95) == 0.0
    rows = [query_metrics(ranked, rel, [1, 5]), query_metrics(["d"], ["d"], [1, 5])]
    assert mean_metrics(rows)["recall@1"] == pytest.approx((0.25 + 1.0) / 2)


@pytest.mark.parametrize("name", ["seal_tools", "toole"])
def test_metrics_reproduce_the_reference_figures(name: str) -> None:
    """The shared folder ships the reference rankings and their figures: same definitions."""
    folder = SHARED / name
    if not folder.exists():
        pytest.skip(f"{folder} is not here")
    relevant = {q.id: q.relevant for q in load_dataset(folder).queries}
    reference = json.loads((folder / "baselines.json").read_text())
    for ranker, key in (
        ("bm25", "queries.jsonl|bm25|full"),
        ("minilm", "queries.jsonl|minilm|full"),
    ):
        rows = [
            query_metrics(r["top10"], relevant[r["id"]], [1, 5, 10])
            for r in map(
                json.loads, (folder / f"rankings_{ranker}_full.jsonl").read_text().splitlines()
            )
        ]
        got = mean_metrics(rows)
        for metric, ref in (("recall@5", "R@5"), ("ndcg@10", "NDCG@10"), ("comp@5", "COMP@5")):
            assert 100 * got[metric] == pytest.approx(reference[key][ref], abs=0.01), metric
