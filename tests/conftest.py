"""Shared fixtures, one of each per test session: the real embedding model, the built demo
index, and a small catalog built into both stores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# one ONNX export of the model for every test (and the servers they start), kept between runs
os.environ.setdefault(
    "LUCY_MODEL_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".lucy" / "models")
)

from qdrant_client import QdrantClient

from lucy.capability_index.build import build_index
from lucy.capability_index.catalog import Catalog, load_catalog
from lucy.capability_index.edge_store import EdgeStore
from lucy.capability_index.embedder import SentenceTransformerEmbedder
from lucy.capability_index.server_store import ServerStore
from lucy.capability_index.service import CapabilityIndex
from lucy.capability_index.store import VectorStore
from lucy.settings import Settings


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> SentenceTransformerEmbedder:
    """The model on the default runtime, as the service runs it."""
    return SentenceTransformerEmbedder.from_settings(
        Settings(data_dir=tmp_path_factory.mktemp("embedder"))
    )


SMALL_TOOLKITS = {"github", "linear", "jira", "slack", "gmail", "googlecalendar", "notion"}


@pytest.fixture(scope="session")
def small_catalog() -> Catalog:
    """Seven toolkits of the demo catalog: enough near-duplicates, a quick build."""
    full = load_catalog()
    return Catalog(
        tools=tuple(t for t in full.tools if t.toolkit in SMALL_TOOLKITS),
        toolkits={k: v for k, v in full.toolkits.items() if k in SMALL_TOOLKITS},
    )


@pytest.fixture(scope="session")
def stores(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
    small_catalog: Catalog,
) -> Iterator[dict[str, VectorStore]]:
    """The small catalog built into both stores (read-only for tests): embedded and server."""
    edge = EdgeStore(Path(tmp_path_factory.mktemp("edge")))
    server = ServerStore(QdrantClient(":memory:"), prefix="lucy_tools")
    for store in (edge, server):
        build_index(store, embedder, small_catalog, prefix="lucy_tools")
    yield {"edge": edge, "server": server}
    edge.close()
    server.close()


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    env_free = {k: v for k, v in overrides.items()}
    return Settings(data_dir=data_dir, **env_free)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def demo_index(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[CapabilityIndex]:
    """The demo catalog built on the embedded engine; tests must not change its connections
    except for workspaces whose names they own."""
    index = CapabilityIndex(make_settings(tmp_path_factory.mktemp("demo")), embedder=embedder)
    index.build()
    yield index
    index.close()
