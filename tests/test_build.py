"""Versioned builds: incremental re-embedding, atomic swaps, crashed builds."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

from lucy.capability_index import documents as documents_module
from lucy.capability_index.build import build_index
from lucy.capability_index.catalog import Catalog, load_catalog
from lucy.capability_index.documents import document_views
from lucy.capability_index.edge_store import EdgeStore
from lucy.capability_index.server_store import ServerStore
from lucy.capability_index.sparse import SparseEncoder
from lucy.capability_index.store import IndexPoint, ToolkitFilter, VectorStore
from lucy.errors import IndexBuildError
from lucy.settings import Settings


@cache
def demo_catalog() -> Catalog:
    return load_catalog()


def small(n: int = 40) -> Catalog:
    full = demo_catalog()
    tools = tuple(t for t in full.tools if t.toolkit in {"linear", "github", "slack"})[:n]
    return Catalog(tools=tools, toolkits=full.toolkits)


def view_count(catalog: Catalog, *indexes: int) -> int:
    """How many texts embedding these tools takes (every view of each)."""
    tools = catalog.tools
    picked = indexes or tuple(range(len(tools)))
    return sum(
        len(document_views(tools[i], catalog.toolkits[tools[i].toolkit].name)) for i in picked
    )


class CountingEmbedder:
    """Wraps the real embedder and counts the documents it embeds."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.documents = 0
        self.model_id = inner.model_id
        self.dimension = inner.dimension

    def encode_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.documents += len(texts)
        return self.inner.encode_documents(texts)

    def encode_query(self, text: str) -> list[float]:
        return self.inner.encode_query(text)

    def encode_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return self.inner.encode_queries(texts)


def stores(tmp_path: Path) -> list[VectorStore]:
    return [EdgeStore(tmp_path / "edge"), ServerStore(QdrantClient(":memory:"), prefix="t")]


@pytest.mark.parametrize("kind", ["edge", "server"])
def test_rebuild_with_one_changed_tool_reembeds_one(tmp_path: Path, embedder, kind: str) -> None:
    store = dict(zip(["edge", "server"], stores(tmp_path), strict=True))[kind]
    counting = CountingEmbedder(embedder)
    catalog = small()
    first = build_index(store, counting, catalog, prefix="t")
    assert (first.embedded, first.reused) == (40, 0)
    assert counting.documents == view_count(catalog)

    changed = list(catalog.tools)
    changed[3] = changed[3].model_copy(update={"description": changed[3].description + " New."})
    second = build_index(store, counting, Catalog(tuple(changed), catalog.toolkits), prefix="t")
    assert (second.embedded, second.reused) == (1, 39)
    assert counting.documents == view_count(catalog) + view_count(catalog, 3)
    assert second.previous == first.collection
    assert store.live() == second.collection

    third = build_index(store, counting, Catalog(tuple(changed), catalog.toolkits), prefix="t")
    assert third.embedded == 0
    assert set(store.collections()) == {second.collection, third.collection}  # rollback kept
    store.close()


def test_model_change_reembeds_everything(tmp_path: Path, embedder) -> None:
    store = EdgeStore(tmp_path / "edge")
    counting = CountingEmbedder(embedder)
    build_index(store, counting, small(10), prefix="t")
    counting.model_id = "another-model"
    assert build_index(store, counting, small(10), prefix="t").embedded == 10
    store.close()


def test_document_format_change_reembeds_everything(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EdgeStore(tmp_path / "edge")
    build_index(store, embedder, small(10), prefix="t")
    assert build_index(store, embedder, small(10), prefix="t").embedded == 0
    monkeypatch.setattr(documents_module, "DOCUMENT_FORMAT", "a-later-recipe")
    assert build_index(store, embedder, small(10), prefix="t").embedded == 10
    assert build_index(store, embedder, small(10), prefix="t").embedded == 0
    fewer = build_index(store, embedder, small(10), prefix="t", views=["plain", "signature"])
    assert fewer.embedded == 10  # another choice of views is another recipe
    store.close()


def test_views_are_chosen_by_setting(tmp_path: Path, embedder) -> None:
    store = EdgeStore(tmp_path / "edge")
    catalog = small(3)
    build_index(store, embedder, catalog, prefix="t", views=["signature", "plain"])
    [point] = store.fetch(store.live(), [catalog.tools[0].point_id])
    texts = document_views(catalog.tools[0], catalog.toolkits[catalog.tools[0].toolkit].name)
    expected = np.mean(embedder.encode_documents([texts[0], texts[2]]), axis=0)
    assert np.asarray(point.dense) == pytest.approx(expected / np.linalg.norm(expected), abs=1e-5)
    assert point.payload["document_format"] == "views-2:plain+signature"
    assert Settings(document_views="description, signature").document_views == [
        "description",
        "signature",
    ]
    store.close()


def test_dense_vector_is_the_normalised_mean_of_the_views(tmp_path: Path, embedder) -> None:
    store = EdgeStore(tmp_path / "edge")
    catalog = small(3)
    report = build_index(store, embedder, catalog, prefix="t")
    for tool in catalog.tools:
        views = document_views(tool, catalog.toolkits[tool.toolkit].name)
        mean = np.asarray(embedder.encode_documents(list(views))).mean(axis=0)
        [point] = store.fetch(report.collection, [tool.point_id])
        assert np.allclose(point.dense, mean / np.linalg.norm(mean), atol=1e-5)
        assert abs(np.linalg.norm(point.dense) - 1.0) < 1e-5
    store.close()


class FailingStore:
    """A real store whose upserts fail after the first batch (a crash mid-build)."""

    def __init__(self, inner: VectorStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def upsert(self, name: str, points: Sequence[IndexPoint]) -> None:
        self.inner.upsert(name, points[:5])
        raise OSError("disk full")


@pytest.mark.parametrize("kind", ["edge", "server"])
def test_failed_build_leaves_live_version_answering(tmp_path: Path, embedder, kind: str) -> None:
    store = dict(zip(["edge", "server"], stores(tmp_path), strict=True))[kind]
    good = build_index(store, embedder, small(), prefix="t")
    changed = Catalog(
        tuple(t.model_copy(update={"description": "x " + t.description}) for t in small().tools),
        small().toolkits,
    )
    with pytest.raises(IndexBuildError, match="stays live"):
        build_index(FailingStore(store), embedder, changed, prefix="t")  # type: ignore[arg-type]
    assert store.live() == good.collection
    assert store.collections() == [good.collection]
    query = "create an issue"
    hits = store.search(
        good.collection,
        embedder.encode_query(query),
        SparseEncoder().encode_query(query),
        ToolkitFilter(),
        5,
    )
    assert len(hits.dense) == 5
    store.close()


def test_killed_build_process_leaves_live_pointer(tmp_path: Path, embedder) -> None:
    """A build process killed mid-write (SIGKILL, no cleanup) never moves the live pointer."""
    root = tmp_path / "edge"
    store = EdgeStore(root)
    good = build_index(store, embedder, small(), prefix="t")
    store.close()
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from lucy.capability_index.build import build_index
        from lucy.capability_index.catalog import Catalog, load_catalog
        from lucy.capability_index.edge_store import EdgeStore

        class Dies:
            model_id, dimension = "m", 384
            def encode_documents(self, texts):
                return [[1.0] + [0.0] * 383 for _ in texts]
            def encode_query(self, text):
                return [1.0] + [0.0] * 383

        class KilledMidWrite(EdgeStore):
            def upsert(self, name, points):
                super().upsert(name, points[:3])
                os.kill(os.getpid(), signal.SIGKILL)

        full = load_catalog()
        build_index(KilledMidWrite(Path({str(root)!r})), Dies(),
                    Catalog(full.tools[:20], full.toolkits), prefix="t")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    store = EdgeStore(root)
    assert store.live() == good.collection
    assert len(store.collections()) == 2  # the half-written one is left behind...
    next_build = build_index(store, embedder, small(), prefix="t")
    assert set(store.collections()) == {good.collection, next_build.collection}  # ...and pruned
    store.close()
