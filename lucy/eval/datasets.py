"""Reading an eval dataset: ``tools.jsonl`` + ``queries.jsonl`` (see docs/eval.md).

Nothing here crashes half-way on bad data: malformed lines, duplicate tool names and labels
naming no tool are collected as ``problems`` (file, line, reason) and left out.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lucy.errors import InvalidRequestError


@dataclass(frozen=True)
class EvalTool:
    name: str
    description: str
    parameters: dict[str, Any] | None
    toolkit: str | None


@dataclass(frozen=True)
class EvalQuery:
    id: str
    query: str
    relevant: tuple[str, ...]

    @property
    def multi(self) -> bool:
        return len(self.relevant) > 1


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class Dataset:
    name: str
    tools: list[EvalTool]
    queries: list[EvalQuery]
    problems: list[Problem] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        """Hash of the tools only: the index depends on nothing else."""
        digest = hashlib.sha256()
        for tool in self.tools:
            row = [tool.name, tool.description, tool.parameters, tool.toolkit]
            digest.update(json.dumps(row, sort_keys=True).encode())
        return digest.hexdigest()[:16]


def load_dataset(folder: Path, queries_file: Path | None = None) -> Dataset:
    """Read ``folder/tools.jsonl`` and ``queries_file`` (default ``folder/queries.jsonl``)."""
    tools_path = folder / "tools.jsonl"
    queries_path = queries_file or folder / "queries.jsonl"
    for path in (tools_path, queries_path):
        if not path.is_file():
            raise InvalidRequestError(f"{path} does not exist", field="dataset")
    problems: list[Problem] = []
    tools = _read_tools(tools_path, problems)
    names = {t.name for t in tools}
    queries = _read_queries(queries_path, names, problems)
    if not tools or not queries:
        raise InvalidRequestError(
            f"{folder} has {len(tools)} usable tools and {len(queries)} usable queries; "
            f"first problems: {[str(p) for p in problems[:3]]}",
            field="dataset",
        )
    problems.sort(key=lambda p: (p.file != tools_path.name, p.line))
    return Dataset(folder.name, tools, queries, problems)


def _lines(path: Path, problems: list[Problem]) -> list[tuple[int, dict[str, Any]]]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(Problem(path.name, number, f"not JSON: {exc.msg}"))
                continue
            if not isinstance(row, dict):
                problems.append(Problem(path.name, number, "not a JSON object"))
                continue
            out.append((number, row))
    return out


def _read_tools(path: Path, problems: list[Problem]) -> list[EvalTool]:
    tools: dict[str, EvalTool] = {}
    for number, row in _lines(path, problems):
        name, description = row.get("name"), row.get("description")
        params, toolkit = row.get("parameters"), row.get("toolkit")
        if not isinstance(name, str) or not name.strip():
            problems.append(Problem(path.name, number, "tool without a name"))
        elif not isinstance(description, str):
            problems.append(Problem(path.name, number, f"tool {name!r}: description not text"))
        elif params is not None and not isinstance(params, dict):
            problems.append(Problem(path.name, number, f"tool {name!r}: parameters not an object"))
        elif toolkit is not None and not isinstance(toolkit, str):
            problems.append(Problem(path.name, number, f"tool {name!r}: toolkit not text"))
        elif name in tools:
            problems.append(
                Problem(path.name, number, f"duplicate tool name {name!r} (kept first)")
            )
        else:
            tools[name] = EvalTool(name, description, params, toolkit)
    return list(tools.values())


def _read_queries(path: Path, names: set[str], problems: list[Problem]) -> list[EvalQuery]:
    queries: list[EvalQuery] = []
    seen: set[str] = set()
    for number, row in _lines(path, problems):
        qid, text, relevant = row.get("id"), row.get("query"), row.get("relevant")
        if not isinstance(qid, str) or not isinstance(text, str) or not text.strip():
            problems.append(Problem(path.name, number, "query needs a string id and query text"))
            continue
        if not isinstance(relevant, list) or not all(isinstance(r, str) for r in relevant):
            problems.append(Problem(path.name, number, f"query {qid}: relevant must be a list"))
            continue
        if qid in seen:
            problems.append(Problem(path.name, number, f"duplicate query id {qid!r} (kept first)"))
            continue
        unknown = [r for r in relevant if r not in names]
        if unknown:
            problems.append(Problem(path.name, number, f"query {qid}: no tool named {unknown}"))
        known = tuple(dict.fromkeys(r for r in relevant if r in names))
        if not known:
            problems.append(Problem(path.name, number, f"query {qid}: no relevant tool left"))
            continue
        seen.add(qid)
        queries.append(EvalQuery(qid, text, known))
    return queries
