"""Is retriever B really better than A? A paired bootstrap over the queries two reports share.

``compare_runs`` reads two ``report.json`` files (the same file twice to compare two retrievers
of one run), recomputes every metric per query from the ``rankings.jsonl`` next to them, and
resamples the per-query differences. ``format_comparison`` renders the result as Markdown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lucy.errors import InvalidRequestError
from lucy.eval.metrics import query_metrics

# retriever -> query id -> (relevant, ranked)
Rankings = dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]]

DEFAULT_RETRIEVER = "lucy"
_MAX_CELLS = 2_000_000  # resampled indices held in memory at once


@dataclass(frozen=True)
class BootstrapResult:
    mean_a: float
    mean_b: float
    diff: float  # mean_b - mean_a
    low: float
    high: float
    p_value: float
    n: int


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    a: float
    b: float
    diff: float  # b - a
    low: float
    high: float
    p_value: float
    significant: bool  # the confidence interval excludes 0
    n: int  # queries paired


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Resample query indices with replacement ``resamples`` times and take the mean of
    ``b - a`` each time. ``low``/``high`` are the percentile interval at ``confidence``;
    ``p_value`` is twice the share of resampled differences on the other side of 0 than the
    observed one (0 counts as the other side), capped at 1, and 1 when the observed difference
    is 0. Deterministic for a seed. ``ValueError`` if the lengths differ or are zero."""
    if len(a) != len(b) or not a:
        raise ValueError(f"need two equally long, non-empty samples, got {len(a)} and {len(b)}")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError("resamples must be >= 1 and confidence between 0 and 1")
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    deltas = xb - xa
    n = len(deltas)
    rng = np.random.default_rng(seed)
    rows = max(1, _MAX_CELLS // n)
    means = np.concatenate(
        [
            deltas[rng.integers(0, n, size=(min(rows, resamples - start), n))].mean(axis=1)
            for start in range(0, resamples, rows)
        ]
    )
    observed = float(deltas.mean())
    alpha = 1 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    if observed > 0:
        p_value = min(1.0, 2 * float(np.mean(means <= 0)))
    elif observed < 0:
        p_value = min(1.0, 2 * float(np.mean(means >= 0)))
    else:
        p_value = 1.0
    return BootstrapResult(
        mean_a=float(xa.mean()),
        mean_b=float(xb.mean()),
        diff=observed,
        low=float(low),
        high=float(high),
        p_value=p_value,
        n=n,
    )


def _report_path(report_json: Path) -> Path:
    """Accept the report file or the folder holding it."""
    path = report_json / "report.json" if report_json.is_dir() else report_json
    if not path.is_file():
        raise InvalidRequestError(f"{path} does not exist", field="report")
    return path


def load_report(report_json: Path) -> dict[str, Any]:
    """``report.json`` (or the folder holding it) as written by ``write_reports``; checks only
    the keys a comparison needs (``ks`` and ``retrievers``)."""
    path = _report_path(report_json)
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"{path} is not JSON: {exc}", field="report") from exc
    report: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    ks, retrievers = report.get("ks"), report.get("retrievers")
    if (
        not isinstance(ks, list)
        or not ks
        or not all(isinstance(k, int) and k > 0 for k in ks)
        or not isinstance(retrievers, dict)
        or not retrievers
    ):
        raise InvalidRequestError(
            f"{path} is not an eval report (needs 'ks' and 'retrievers')", field="report"
        )
    return report


def load_rankings(report_json: Path) -> Rankings:
    """The ``rankings.jsonl`` next to ``report_json``: retriever -> query id -> (relevant,
    ranked). ``InvalidRequestError`` naming the file and line if anything is missing or
    malformed."""
    path = _report_path(report_json).parent / "rankings.jsonl"
    if not path.is_file():
        raise InvalidRequestError(
            f"{path} does not exist (written by `lucy eval` next to report.json)",
            field="report",
        )
    try:
        lines = path.read_text(encoding="utf-8").split("\n")  # not splitlines: U+2028 in text
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(f"{path} is not UTF-8 text", field="report") from exc
    out: Rankings = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidRequestError(f"{where}: not JSON: {exc.msg}", field="report") from exc
        name, qid = _text(row, "retriever"), _text(row, "id")
        relevant, ranked = _names(row, "relevant"), _names(row, "ranked")
        if name is None or qid is None or relevant is None or ranked is None:
            raise InvalidRequestError(
                f"{where}: needs string 'retriever' and 'id' and lists of names "
                "'relevant' and 'ranked'",
                field="report",
            )
        per_query = out.setdefault(name, {})
        if qid in per_query:
            raise InvalidRequestError(
                f"{where}: query {qid!r} ranked twice for {name!r}", field="report"
            )
        per_query[qid] = (relevant, ranked)
    if not out:
        raise InvalidRequestError(f"{path} holds no rankings", field="report")
    return out


def _text(row: Any, key: str) -> str | None:
    value = row.get(key) if isinstance(row, dict) else None
    return value if isinstance(value, str) else None


def _names(row: Any, key: str) -> tuple[str, ...] | None:
    value = row.get(key) if isinstance(row, dict) else None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _pick(
    report: dict[str, Any], rankings: Rankings, wanted: str | None, avoid: str | None, label: str
) -> str:
    names = [n for n in report["retrievers"] if n in rankings] or list(rankings)
    if wanted is not None:
        if wanted not in rankings:
            raise InvalidRequestError(
                f"report {label} has no rankings for retriever {wanted!r}; it has {names}",
                field=f"{label}_retriever",
            )
        return wanted
    candidates = [n for n in names if n != avoid] or names
    return DEFAULT_RETRIEVER if DEFAULT_RETRIEVER in candidates else candidates[0]


def _metric_order(ks: Sequence[int]) -> list[str]:
    kinds = ("recall", "comp", "ndcg", "precision")
    return [f"{kind}@{k}" for kind in kinds for k in ks] + ["mrr"]


def compare_runs(
    a_report: Path,
    b_report: Path,
    *,
    a_retriever: str | None,
    b_retriever: str | None,
    ks: Sequence[int] | None = None,
    resamples: int = 2000,
    seed: int = 0,
) -> list[MetricComparison]:
    """Bootstrap B - A for every metric over the queries (by id) both rankings hold.

    A retriever left as None is ``"lucy"`` when the report has it, else the report's first
    retriever; when both sides read the same report, B's default skips A's retriever so that
    a retriever is not compared with itself. ``ks`` defaults to the ks both reports share.
    Metrics come in the order recall@K, comp@K, ndcg@K, precision@K (every K), mrr."""
    report_a, report_b = load_report(a_report), load_report(b_report)
    rankings_a, rankings_b = load_rankings(a_report), load_rankings(b_report)
    same = _report_path(a_report).resolve() == _report_path(b_report).resolve()
    name_a = _pick(report_a, rankings_a, a_retriever, None, "a")
    name_b = _pick(report_b, rankings_b, b_retriever, name_a if same else None, "b")
    if ks is None:
        ks = sorted(set(report_a["ks"]) & set(report_b["ks"]))
        if not ks:
            raise InvalidRequestError(
                f"the reports share no K ({report_a['ks']} vs {report_b['ks']}); pass ks",
                field="ks",
            )
    elif not ks or any(k < 1 for k in ks):
        raise InvalidRequestError("ks must be positive integers", field="ks")
    side_a, side_b = rankings_a[name_a], rankings_b[name_b]
    shared = [qid for qid in side_a if qid in side_b]
    if not shared:
        raise InvalidRequestError(
            f"{name_a!r} in {a_report} and {name_b!r} in {b_report} share no query id",
            field="report",
        )
    rows_a = [query_metrics(side_a[q][1], side_a[q][0], ks) for q in shared]
    rows_b = [query_metrics(side_b[q][1], side_b[q][0], ks) for q in shared]
    out = []
    for metric in _metric_order(ks):
        result = paired_bootstrap(
            [r[metric] for r in rows_a],
            [r[metric] for r in rows_b],
            resamples=resamples,
            seed=seed,
        )
        out.append(
            MetricComparison(
                metric=metric,
                a=result.mean_a,
                b=result.mean_b,
                diff=result.diff,
                low=result.low,
                high=result.high,
                p_value=result.p_value,
                significant=result.low > 0 or result.high < 0,
                n=result.n,
            )
        )
    return out


def _verdict(row: MetricComparison) -> str:
    if not row.significant:
        return "no clear difference"
    return "better" if row.diff > 0 else "worse"


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def format_comparison(rows: Sequence[MetricComparison], a_label: str, b_label: str) -> str:
    """A Markdown table: metric, A, B (in %), B - A and its 95% interval (in percentage
    points), p, and whether B is "better", "worse" or shows "no clear difference"."""
    a_cell, b_cell = (label.replace("|", "\\|") for label in (a_label, b_label))
    n = rows[0].n if rows else 0
    lines = [
        f"B = {b_cell} against A = {a_cell}, paired over {n} queries; diff and CI in "
        "percentage points (B - A).",
        "",
        f"| metric | A: {a_cell} | B: {b_cell} | diff | 95% CI | p | B is |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.metric} | {r.a * 100:.1f} | {r.b * 100:.1f} | {r.diff * 100:+.1f} "
        f"| [{r.low * 100:+.1f}, {r.high * 100:+.1f}] | {_p(r.p_value)} | {_verdict(r)} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"
