"""Turning an ``EvalRun`` into files a person (and ``lucy eval compare``) can read.

``write_reports`` writes ``report.json`` (``summarize``), ``report.md``, ``report.png``,
``worst.jsonl`` (``worst_queries`` per retriever) and ``rankings.jsonl`` (every ranking, so a
later comparison can recompute any metric per query). All metric values in the JSON files are
fractions (0..1); the Markdown shows them as percentages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from lucy.eval.metrics import (
    mean_metrics,
    percentile,
    query_metrics,
    recall_at,
    reciprocal_rank,
)
from lucy.eval.results import EvalRun, QueryOutcome, RetrieverRun

MAX_PROBLEMS = 50
WORST_IN_FILE = 20
WORST_IN_MARKDOWN = 5
QUERY_CHARS_IN_MARKDOWN = 160


def summarize(run: EvalRun) -> dict[str, Any]:
    """The content of ``report.json``: the dataset's shape, the ks, and per retriever the mean
    of every metric (``recall@K``, ``precision@K``, ``ndcg@K``, ``comp@K``, ``mrr``), latency
    (``p50_ms``, ``p95_ms``, ``mean_ms`` over the ``latency_queries`` timed cold, see
    ``lucy.eval.runner``), ``build_s``, ``queries`` and the same metrics split
    ``by_kind`` into ``single`` and ``multi`` (several relevant tools); an empty kind is left
    out. A retriever without outcomes gets 0.0 for every metric."""
    queries = run.dataset.queries
    multi = sum(1 for q in queries if q.multi)
    return {
        "dataset": {
            "name": run.dataset.name,
            "tools": len(run.dataset.tools),
            "queries": len(queries),
            "single_tool_queries": len(queries) - multi,
            "multi_tool_queries": multi,
            "problems": [str(p) for p in run.dataset.problems[:MAX_PROBLEMS]],
            "problem_count": len(run.dataset.problems),
        },
        "ks": list(run.ks),
        "created": run.created,
        "setup": run.setup,
        "retrievers": {one.name: _summarize_retriever(one, run.ks) for one in run.runs},
    }


def _summarize_retriever(one: RetrieverRun, ks: Sequence[int]) -> dict[str, Any]:
    ms = one.latency_ms or [o.ms for o in one.outcomes]
    out: dict[str, Any] = _metric_means(one.outcomes, ks)
    out.update(
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        mean_ms=sum(ms) / len(ms) if ms else 0.0,
        latency_queries=len(ms),
        build_s=one.build_s,
        queries=len(one.outcomes),
    )
    by_kind: dict[str, Any] = {}
    for kind, is_multi in (("single", False), ("multi", True)):
        subset = [o for o in one.outcomes if (len(o.relevant) > 1) == is_multi]
        if subset:
            by_kind[kind] = {**_metric_means(subset, ks), "queries": len(subset)}
    out["by_kind"] = by_kind
    return out


def _metric_means(outcomes: Sequence[QueryOutcome], ks: Sequence[int]) -> dict[str, float]:
    rows = [query_metrics(o.ranked, o.relevant, ks) for o in outcomes]
    return mean_metrics(rows) or dict.fromkeys(query_metrics((), (), ks), 0.0)


def worst_queries(run_one: RetrieverRun, k: int, n: int = WORST_IN_FILE) -> list[dict[str, Any]]:
    """The ``n`` queries with the lowest recall@k (ties: lower reciprocal rank first, then id),
    each ``{"id", "query", "expected", "got" (top k), "recall@<k>"}``."""

    def key(o: QueryOutcome) -> tuple[float, float, str]:
        return (recall_at(o.ranked, o.relevant, k), reciprocal_rank(o.ranked, o.relevant), o.id)

    return [
        {
            "id": o.id,
            "query": o.query,
            "expected": list(o.relevant),
            "got": list(o.ranked[:k]),
            f"recall@{k}": recall_at(o.ranked, o.relevant, k),
        }
        for o in sorted(run_one.outcomes, key=key)[:n]
    ]


def headline_k(ks: Sequence[int]) -> int:
    """The K the report leads with: 10 when evaluated, else the largest K."""
    return 10 if 10 in ks else max(ks)


def write_reports(run: EvalRun, out_dir: Path) -> dict[str, Path]:
    """Write the five report files into ``out_dir`` (created if needed) and return their paths
    keyed by file name (``"report.json"``, ``"report.md"``, ``"report.png"``,
    ``"worst.jsonl"``, ``"rankings.jsonl"``)."""
    if not run.ks:
        raise ValueError("an EvalRun needs at least one K")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(run)
    k = headline_k(run.ks)
    worst = {one.name: worst_queries(one, k) for one in run.runs}
    paths = {
        name: out_dir / name
        for name in ("report.json", "report.md", "report.png", "worst.jsonl", "rankings.jsonl")
    }
    paths["report.json"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    paths["report.md"].write_text(render_markdown(summary, worst, k), encoding="utf-8")
    plot_png(summary, paths["report.png"])
    _write_jsonl(
        paths["worst.jsonl"],
        ({"retriever": name, **row} for name, rows in worst.items() for row in rows),
    )
    _write_jsonl(
        paths["rankings.jsonl"],
        (
            {
                "retriever": one.name,
                "id": o.id,
                "query": o.query,
                "relevant": list(o.relevant),
                "ranked": list(o.ranked),
                "ms": o.ms,
            }
            for one in run.runs
            for o in one.outcomes
        ),
    )
    return paths


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


# --- Markdown -------------------------------------------------------------------------------

# (header, value getter, format, higher is better)
_Column = tuple[str, Callable[[dict[str, Any]], float], Callable[[float], str], bool]


def _pct(value: float) -> str:
    return f"{value * 100:.1f}"


def _num(value: float) -> str:
    return f"{value:.2f}"


def _quality_columns(ks: Sequence[int]) -> list[_Column]:
    def metric(key: str) -> Callable[[dict[str, Any]], float]:
        return lambda block: float(block[key])

    nk = headline_k(ks)
    return [
        *((f"R@{k}", metric(f"recall@{k}"), _pct, True) for k in ks),
        *((f"COMP@{k}", metric(f"comp@{k}"), _pct, True) for k in ks),
        (f"nDCG@{nk}", metric(f"ndcg@{nk}"), _pct, True),
        ("MRR", metric("mrr"), _pct, True),
    ]


def _cost_columns() -> list[_Column]:
    return [
        ("p50 ms", lambda b: float(b["p50_ms"]), _num, False),
        ("p95 ms", lambda b: float(b["p95_ms"]), _num, False),
        ("build s", lambda b: float(b["build_s"]), _num, False),
    ]


def _table(blocks: dict[str, dict[str, Any]], columns: Sequence[_Column]) -> list[str]:
    """A Markdown table, one row per block; with two rows or more the best shown value of each
    column is bold (all of them when tied)."""
    names = list(blocks)
    cells = [[fmt(get(blocks[name])) for _, get, fmt, _ in columns] for name in names]
    if len(names) > 1:
        for col, (_, _, _, higher) in enumerate(columns):
            shown = [float(row[col]) for row in cells]
            best = max(shown) if higher else min(shown)
            for row, value in zip(cells, shown, strict=True):
                if value == best:
                    row[col] = f"**{row[col]}**"
    header = ["retriever", *(c[0] for c in columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join([_cell(name), *row]) + " |"
        for name, row in zip(names, cells, strict=True)
    ]
    return lines


def _cell(text: str, limit: int | None = None) -> str:
    flat = " ".join(text.split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat.replace("|", "\\|")


def _latency_note(retrievers: dict[str, Any]) -> str:
    timed = {int(b["latency_queries"]) for b in retrievers.values()}
    counts = " / ".join(str(n) for n in sorted(timed)) or "0"
    return (
        f"Latency in ms per query over {counts} queries per retriever, each timed alone with "
        "a cold query-embedding cache."
    )


def render_markdown(summary: dict[str, Any], worst: dict[str, list[dict[str, Any]]], k: int) -> str:
    """``report.md`` from a ``summarize`` result and ``worst_queries(..., k)`` per retriever."""
    data, ks, retrievers = summary["dataset"], summary["ks"], summary["retrievers"]
    lines = [
        f"# Retrieval eval: {data['name']}",
        "",
        f"Created {summary['created']}. {data['tools']} tools, {data['queries']} queries "
        f"({data['single_tool_queries']} single-tool, {data['multi_tool_queries']} multi-tool)"
        f", {data['problem_count']} dataset problems. Quality in %, best value in bold.",
        "",
        _latency_note(retrievers),
        "",
        "## All queries",
        "",
        *_table(retrievers, [*_quality_columns(ks), *_cost_columns()]),
        "",
        f"## Multi-tool queries ({data['multi_tool_queries']})",
        "",
    ]
    multi = {
        name: block["by_kind"]["multi"]
        for name, block in retrievers.items()
        if "multi" in block["by_kind"]
    }
    if multi:
        lines += _table(multi, _quality_columns(ks))
    else:
        lines.append("No multi-tool queries in this dataset.")
    lines += ["", f"## Worst queries (lowest R@{k})"]
    for name, rows in worst.items():
        lines += [
            "",
            f"### {_cell(name)}",
            "",
            f"| id | query | expected | got (top {k}) | R@{k} |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {_cell(row['id'])} | {_cell(row['query'], QUERY_CHARS_IN_MARKDOWN)} "
            f"| {_cell(', '.join(row['expected']))} | {_cell(', '.join(row['got']))} "
            f"| {_pct(row[f'recall@{k}'])} |"
            for row in rows[:WORST_IN_MARKDOWN]
        ]
    return "\n".join(lines) + "\n"


# --- Plot -----------------------------------------------------------------------------------


def plot_png(summary: dict[str, Any], path: Path) -> None:
    """Two panels, Recall@K and COMP@K (in %) against K, one line per retriever. Drawn on a
    standalone Agg figure: no pyplot state, no window, nothing left open."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ks = sorted(summary["ks"])
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    panels = fig.subplots(1, 2, sharey=True)
    for ax, (prefix, label) in zip(
        panels, (("recall", "Recall@K"), ("comp", "COMP@K")), strict=True
    ):
        for name, block in summary["retrievers"].items():
            ax.plot(ks, [block[f"{prefix}@{k}"] * 100 for k in ks], marker="o", label=name)
        ax.set_title(label)
        ax.set_xlabel("K (tools returned)")
        ax.set_ylabel(f"{label} (%)")
        ax.set_xticks(ks)
        ax.set_ylim(-3, 103)  # room for markers at 0 and 100
        ax.set_yticks(range(0, 101, 20))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right")
    fig.suptitle(f"Tool retrieval on {summary['dataset']['name']}")
    fig.savefig(path, format="png", dpi=100)
