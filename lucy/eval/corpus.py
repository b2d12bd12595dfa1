"""An eval dataset as a catalog, indexed into its own collection (cached by content hash)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lucy.capability_index.build import BuildReport, build_index
from lucy.capability_index.catalog import Catalog
from lucy.capability_index.documents import document_format
from lucy.capability_index.edge_store import EdgeStore
from lucy.capability_index.embedder import Embedder
from lucy.capability_index.tags import derive_tags
from lucy.capability_index.text import humanise
from lucy.eval.datasets import Dataset, EvalTool
from lucy.models import ToolkitInfo, ToolSpec
from lucy.settings import ALL_VIEWS, View

DEFAULT_TOOLKIT = "tools"


def tool_text(tool: EvalTool) -> str:
    """The baselines' tool text: name, toolkit, description, parameter names and descriptions."""
    parts = [tool.name, tool.toolkit or "", tool.description]
    for pname, schema in ((tool.parameters or {}).get("properties") or {}).items():
        described = schema.get("description", "") if isinstance(schema, dict) else ""
        parts.append(f"{pname} {described}")
    return " ".join(p for p in parts if p)


def _ident(text: str, fallback: str) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "_", humanise(text)).strip("_")
    if not cleaned:
        return fallback
    return cleaned if cleaned[0].isalpha() else f"{fallback}_{cleaned}"


@dataclass(frozen=True)
class DatasetCatalog:
    catalog: Catalog
    slug_to_name: dict[str, str]


def to_catalog(dataset: Dataset) -> DatasetCatalog:
    """Every dataset tool as a ToolSpec: slug from its name, toolkit from its toolkit."""
    specs: list[ToolSpec] = []
    toolkits: dict[str, ToolkitInfo] = {}
    slug_to_name: dict[str, str] = {}
    for tool in dataset.tools:
        toolkit = _ident(tool.toolkit or DEFAULT_TOOLKIT, "tk")
        toolkits.setdefault(
            toolkit, ToolkitInfo(toolkit=toolkit, name=tool.toolkit or DEFAULT_TOOLKIT)
        )
        base = _ident(tool.name, "tool").upper()
        slug, n = base, 2
        while slug in slug_to_name:
            slug, n = f"{base}_{n}", n + 1
        slug_to_name[slug] = tool.name
        params = tool.parameters if (tool.parameters or {}).get("type") == "object" else None
        specs.append(
            ToolSpec(
                slug=slug,
                toolkit=toolkit,
                provider="eval",
                name=humanise(tool.name).capitalize(),
                description=" ".join(tool.description.split()),
                parameters=params or {"type": "object", "properties": {}},
                tags=derive_tags(slug, toolkit, tool.name),
            )
        )
    return DatasetCatalog(Catalog(tools=tuple(specs), toolkits=toolkits), slug_to_name)


def index_dataset(
    dataset: Dataset, root: Path, embedder: Embedder, views: Sequence[View] = ALL_VIEWS
) -> tuple[EdgeStore, DatasetCatalog, BuildReport | None]:
    """Open (building only if needed) the dataset's index under ``root/<name>-<hash>``.

    A second run on the same tools and model finds the live version and builds nothing.
    """
    converted = to_catalog(dataset)
    folder = root / f"{_ident(dataset.name, 'dataset')}-{dataset.content_hash}"
    store = EdgeStore(folder)
    marker = folder / "dataset.json"
    built = json.loads(marker.read_text()) if marker.exists() else {}
    same_format = built.get("document_format") == document_format(views)
    if store.live() is not None and built.get("embedder") == embedder.model_id and same_format:
        return store, converted, None
    report = build_index(store, embedder, converted.catalog, prefix="eval", views=views)
    marker.write_text(
        json.dumps(
            {
                "dataset": dataset.name,
                "embedder": embedder.model_id,
                "document_format": document_format(views),
            }
        )
    )
    return store, converted, report
