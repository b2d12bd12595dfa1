"""Index builds: every build writes a new collection; the live pointer swaps only at the end."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from lucy.capability_index.catalog import Catalog
from lucy.capability_index.documents import (
    document_format,
    document_views,
    render_document,
    to_payload,
)
from lucy.capability_index.embedder import Embedder
from lucy.capability_index.sparse import SparseEncoder
from lucy.capability_index.store import IndexPoint, VectorStore
from lucy.errors import IndexBuildError
from lucy.settings import ALL_VIEWS, View

Progress = Callable[[int, int], None]
_EMBED_CHUNK = 256


@dataclass(frozen=True)
class BuildReport:
    collection: str
    previous: str | None
    tools: int
    toolkits: int
    embedded: int
    reused: int
    seconds: float


def new_collection_name(prefix: str) -> str:
    return f"{prefix}_v{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"


def build_index(
    store: VectorStore,
    embedder: Embedder,
    catalog: Catalog,
    *,
    prefix: str,
    progress: Progress | None = None,
    before_live: Callable[[], None] | None = None,
    in_use: Callable[[], set[str] | None] | None = None,
    views: Sequence[View] = ALL_VIEWS,
    runtime: str | None = None,
) -> BuildReport:
    """Write ``catalog`` to a new collection, reusing the live embeddings of unchanged tools.

    The live pointer moves only after every point is written and sealed, and after
    ``before_live`` (a job's lock check) returned; on any failure the new collection is
    dropped and the old one stays live. Then older versions are dropped, but the one before
    and those ``in_use`` names (replicas still serving them; None from it keeps all).
    """
    started = time.perf_counter()
    tools = catalog.tools
    if not tools:
        raise IndexBuildError("the catalog has no tools")
    previous = store.live()
    recipe_name = document_format(views)
    texts = [render_document(t, catalog.toolkits[t.toolkit].name) for t in tools]
    # stored vectors to reuse, as float32 arrays (a tenth of a list of floats' memory)
    reusable: dict[str, np.ndarray] = {}
    usage: dict[str, dict[str, Any]] = {}  # a tool's usage figures outlive its versions
    if previous is not None:
        hashes = {t.point_id: t.content_hash for t in tools}
        recipe = ("content_hash", "embedder", "document_format")
        made_now = [embedder.model_id, recipe_name]
        ids = list(hashes)
        for start in range(0, len(ids), _EMBED_CHUNK):  # a chunk of old points at a time
            for old in store.fetch(previous, ids[start : start + _EMBED_CHUNK]):
                made_with = [old.payload.get(field) for field in recipe]
                if made_with == [hashes.get(old.id), *made_now]:
                    reusable[old.id] = np.asarray(old.dense, dtype=np.float32)
                if "usage" in old.payload:
                    usage[old.id] = old.payload["usage"]
    todo = [i for i, t in enumerate(tools) if t.point_id not in reusable]
    sparse = SparseEncoder.for_corpus(texts)

    def point(i: int, dense: list[float]) -> IndexPoint:
        t = tools[i]
        return IndexPoint(
            id=t.point_id,
            dense=dense,
            sparse=sparse.encode_document(texts[i]),
            payload=to_payload(
                t,
                embedder_id=embedder.model_id,
                toolkit_name=catalog.toolkits[t.toolkit].name,
                usage=usage.get(t.point_id),
                document_format=recipe_name,
                runtime=runtime,
            ),
        )

    name = new_collection_name(prefix)
    try:
        store.create_collection(name, embedder.dimension)
        kept = [i for i, t in enumerate(tools) if t.point_id in reusable]
        for start in range(0, len(kept), _EMBED_CHUNK):
            chunk = kept[start : start + _EMBED_CHUNK]
            store.upsert(name, [point(i, reusable[tools[i].point_id].tolist()) for i in chunk])
        done = len(kept)
        if progress:
            progress(done, len(tools))
        # shortest first: each model batch holds texts of about one length (little padding),
        # and each chunk's points are written before the next is embedded (none held)
        texts_of = {
            i: document_views(tools[i], catalog.toolkits[tools[i].toolkit].name, views)
            for i in todo
        }
        todo.sort(key=lambda i: sum(len(v) for v in texts_of[i]))
        for start in range(0, len(todo), _EMBED_CHUNK):
            chunk = todo[start : start + _EMBED_CHUNK]
            vectors = encode_views(embedder, [texts_of[i] for i in chunk])
            store.upsert(name, [point(i, v) for i, v in zip(chunk, vectors, strict=True)])
            done += len(chunk)
            if progress:
                progress(done, len(tools))
        store.seal(name)
        if before_live is not None:
            before_live()
        store.set_live(name)
    except BaseException as exc:
        store.drop_collection(name)
        if isinstance(exc, Exception):
            raise IndexBuildError(f"build of {name} failed, {previous} stays live: {exc}") from exc
        raise
    serving = set() if in_use is None else in_use()
    if serving is not None:
        prune(store, keep={name, previous, *serving})
    return BuildReport(
        collection=name,
        previous=previous,
        tools=len(tools),
        toolkits=len({t.toolkit for t in tools}),
        embedded=len(todo),
        reused=len(tools) - len(todo),
        seconds=time.perf_counter() - started,
    )


def encode_views(embedder: Embedder, views: Sequence[Sequence[str]]) -> list[list[float]]:
    """One unit vector per tool: the normalised mean of the embeddings of its views."""
    flat = [text for texts in views for text in texts]
    matrix = np.asarray(embedder.encode_documents(flat), dtype=np.float64)
    out: list[list[float]] = []
    start = 0
    for texts in views:
        mean = matrix[start : start + len(texts)].mean(axis=0)
        start += len(texts)
        norm = float(np.linalg.norm(mean))
        out.append((mean / norm if norm else mean).tolist())
    return out


def prune(store: VectorStore, *, keep: set[str | None]) -> list[str]:
    """Drop every collection but those in ``keep`` (the live one, the rollback target, the
    versions replicas serve): older versions and crashed builds."""
    dropped = [c for c in store.collections() if c not in keep]
    for name in dropped:
        store.drop_collection(name)
    return dropped
