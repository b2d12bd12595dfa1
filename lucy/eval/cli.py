"""``lucy eval``: run retrievers side by side, compare two runs, build queries from traces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lucy.console import console, err, errors, progress_bar
from lucy.errors import InvalidRequestError
from lucy.settings import Settings

eval_app = typer.Typer(help="Offline retrieval evaluation.", no_args_is_help=True)


def _ints(text: str, field: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise InvalidRequestError(f"{field} must be comma-separated integers", field=field) from exc
    if not values or min(values) < 1:
        raise InvalidRequestError(f"{field} must be positive integers", field=field)
    return values


@eval_app.command("run")
def run(
    dataset: Annotated[Path, typer.Option(help="Folder with tools.jsonl and queries.jsonl.")],
    out: Annotated[Path, typer.Option(help="Folder for report.json, report.md, report.png.")],
    retrievers: Annotated[
        str,
        typer.Option(
            help="Comma-separated: bm25, bm25-stem, dense, hybrid, lucy or module:factory."
        ),
    ] = "bm25,dense,hybrid,lucy",
    k: Annotated[str, typer.Option("--k", help="Cut-offs, e.g. 1,3,5,10.")] = "1,3,5,10",
    queries: Annotated[
        Path | None, typer.Option(help="Queries file instead of DATASET/queries.jsonl.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N queries.")] = None,
    latency_queries: Annotated[
        int,
        typer.Option(
            help="Queries per retriever timed one at a time with a cold embedding cache "
            "(evenly spaced); the rest are ranked with query vectors embedded in batches. "
            "0 times every query that way (slow on large sets)."
        ),
    ] = 500,
) -> None:
    """Evaluate retrievers on a dataset; writes reports to OUT."""
    from lucy.capability_index.embedder import SentenceTransformerEmbedder
    from lucy.eval.datasets import load_dataset
    from lucy.eval.report import write_reports
    from lucy.eval.runner import run_eval

    settings = Settings()
    with errors():
        ks = _ints(k, "k")
        names = [r.strip() for r in retrievers.split(",") if r.strip()]
        data = load_dataset(dataset, queries)
        if limit is not None:
            data.queries = data.queries[:limit]
        for problem in data.problems[:10]:
            err.print(f"[yellow]skipped[/yellow] {problem}")
        if len(data.problems) > 10:
            err.print(
                f"[yellow]... {len(data.problems) - 10} more problems in report.json[/yellow]"
            )
        embedder = SentenceTransformerEmbedder.from_settings(settings)
        with progress_bar() as bar:
            tasks = {n: bar.add_task(n, total=len(data.queries)) for n in names}

            def advance(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(name, total=total)
                bar.update(tasks[name], completed=done, total=total)

            result = run_eval(
                data,
                names,
                ks,
                embedder=embedder,
                cache_dir=settings.data_dir / "eval",
                weights=settings.retrieval,
                progress=advance,
                latency_queries=latency_queries,
                views=settings.document_views,
            )
        paths = write_reports(result, out)
    console.print((paths["report.md"]).read_text())
    console.print(f"wrote {', '.join(str(p) for p in paths.values())}")


@eval_app.command("compare")
def compare(
    a: Annotated[Path, typer.Argument(help="report.json of run A (or its folder).")],
    b: Annotated[Path, typer.Argument(help="report.json of run B (or its folder).")],
    a_retriever: Annotated[str | None, typer.Option(help="Retriever of A (default lucy).")] = None,
    b_retriever: Annotated[str | None, typer.Option(help="Retriever of B (default lucy).")] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Per-metric difference B - A with a paired bootstrap 95% confidence interval, and what
    differs between the two runs' setups."""
    from lucy.eval.compare import compare_runs, format_comparison, load_report
    from lucy.eval.setup import setup_changes

    with errors():
        rows = compare_runs(
            a, b, a_retriever=a_retriever, b_retriever=b_retriever, resamples=resamples, seed=seed
        )
        setups = [load_report(path).get("setup") for path in (a, b)]
    console.print(
        format_comparison(
            rows, f"A ({a_retriever or 'default'})", f"B ({b_retriever or 'default'})"
        )
    )
    if not all(setups):
        console.print(
            "Setup: not recorded in "
            + " and ".join(label for label, s in zip("AB", setups, strict=True) if not s)
        )
    elif changes := setup_changes(setups[0], setups[1]):
        console.print("Setup differs (A -> B):\n" + "\n".join(f"- {c}" for c in changes))
    else:
        console.print("Setup: the same (code, model, retrieval settings, libraries, machine)")


@eval_app.command("from-traces")
def from_traces(
    out: Annotated[Path, typer.Option(help="Folder to write tools.jsonl and queries.jsonl to.")],
    traces: Annotated[
        Path | None,
        typer.Argument(help="A JSONL trace export; omitted = the database's trace records."),
    ] = None,
    min_calls: Annotated[int, typer.Option(help="Least successful tool calls per query.")] = 1,
) -> None:
    """A dataset from real traffic: requests whose tool calls succeeded, against the live
    catalog (its tools.jsonl is written too, so ``lucy eval run --dataset OUT`` works)."""
    from lucy.capability_index.service import CapabilityIndex
    from lucy.eval.traces import queries_from_traces, write_queries

    with errors():
        if traces is None:
            traces = out / "traces.jsonl"
            out.mkdir(parents=True, exist_ok=True)
            _export_traces(Settings(), traces)
        if not traces.is_file():
            raise InvalidRequestError(f"{traces} does not exist", field="traces")
        index = CapabilityIndex(Settings())
        try:
            payloads = index.snapshots.get(index.live_version()).by_slug
        finally:
            index.close()
        rows, problems = queries_from_traces(traces, set(payloads), min_calls=min_calls)
        out.mkdir(parents=True, exist_ok=True)
        tools = [
            {
                "name": slug,
                "description": p["description"],
                "parameters": p["parameters"],
                "toolkit": p["toolkit"],
            }
            for slug, p in sorted(payloads.items())
        ]
        (out / "tools.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tools))
        write_queries(rows, out / "queries.jsonl")
    for problem in problems[:20]:
        err.print(f"[yellow]skipped[/yellow] {problem}")
    console.print(f"wrote {len(rows)} queries and {len(tools)} tools to {out}")


def _export_traces(settings: Settings, path: Path) -> int:
    """The database's trace records, as the JSONL file /v1/respond's trace log would be."""
    import asyncio

    from lucy.store import Database, database_url, upgrade

    async def export() -> int:
        url = database_url(settings.database_url, settings.data_dir)
        await upgrade(url)
        async with await Database.open(url) as db:
            return await db.traces.export_jsonl(path)

    return asyncio.run(export())
