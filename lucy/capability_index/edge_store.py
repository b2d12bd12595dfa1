"""The embedded store: the Qdrant engine in-process (qdrant-edge-py), one shard folder a build.

Layout under ``root``: ``collections/<name>/`` shard folders and ``LIVE``, a JSON pointer file
replaced atomically (write a temp file, fsync, ``os.replace``). The folders are locked by this
process: more workers need a Qdrant server. Opening a shard another process holds raises
``IndexLockedError``; ``open_live`` does so for the live one before anything else is loaded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as E

from lucy.capability_index.store import (
    DENSE,
    INDEXED_FIELDS,
    SPARSE,
    Hit,
    IndexPoint,
    SearchHits,
    SparseVec,
    ToolkitFilter,
    search_hits,
)
from lucy.errors import IndexLockedError

_LIVE = "LIVE"
_BATCH = 512
# what qdrant-edge says when another process holds a shard's WAL lock (a plain Exception):
# "Service runtime error: failed to open WAL <path>/wal: Can't init WAL: Kind(WouldBlock)"
_HELD = re.compile(r"failed to open WAL .*WouldBlock")


class EdgeStore:
    def __init__(self, root: Path, *, hnsw_ef: int = 128) -> None:
        self._root = root
        self._collections = root / "collections"
        self._collections.mkdir(parents=True, exist_ok=True)
        self._shards: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._params = E.SearchParams(hnsw_ef=hnsw_ef)

    def _shard(self, name: str) -> Any:
        shard = self._shards.get(name)
        if shard is None:
            with self._lock:
                shard = self._shards.get(name)
                if shard is None:
                    path = self._collections / name
                    if not path.is_dir():
                        raise KeyError(f"no collection {name!r}")
                    shard = _load(path, self._root)
                    self._shards[name] = shard
        return shard

    def open_live(self) -> None:
        """Open the live version's shard now (nothing before the first build); raises
        ``IndexLockedError`` while another process holds it."""
        live = self.live()
        if live is not None:
            self._shard(live)

    def create_collection(self, name: str, dense_size: int) -> None:
        path = self._collections / name
        if path.exists():
            raise FileExistsError(f"collection {name!r} exists")
        config = E.EdgeConfig(
            vectors={DENSE: E.EdgeVectorParams(size=dense_size, distance=E.Distance.Cosine)},
            sparse_vectors={SPARSE: E.EdgeSparseVectorParams(modifier=E.Modifier.Idf)},
        )
        shard = E.EdgeShard.create(str(path), config)
        for key in INDEXED_FIELDS:
            shard.update(E.UpdateOperation.create_field_index(key, E.PayloadSchemaType.Keyword))
        with self._lock:
            self._shards[name] = shard

    def upsert(self, name: str, points: Sequence[IndexPoint]) -> None:
        shard = self._shard(name)
        for start in range(0, len(points), _BATCH):
            batch = [
                E.Point(
                    id=p.id,
                    vector={
                        DENSE: list(p.dense),
                        SPARSE: E.SparseVector(
                            indices=list(p.sparse.indices), values=list(p.sparse.values)
                        ),
                    },
                    payload=p.payload,
                )
                for p in points[start : start + _BATCH]
            ]
            shard.update(E.UpdateOperation.upsert_points(batch))

    def seal(self, name: str) -> None:
        shard = self._shard(name)
        shard.flush()
        shard.optimize()
        shard.flush()

    def fetch(self, name: str, ids: Sequence[str]) -> list[IndexPoint]:
        if not ids:
            return []
        records = self._shard(name).retrieve(list(ids), True, True)
        return [
            IndexPoint(
                id=str(r.id),
                dense=list(r.vector[DENSE]),
                sparse=SparseVec(tuple(r.vector[SPARSE].indices), tuple(r.vector[SPARSE].values)),
                payload=dict(r.payload),
            )
            for r in records
        ]

    def set_payload(self, name: str, updates: Mapping[str, dict[str, Any]]) -> None:
        shard = self._shard(name)
        known = {str(r.id) for r in shard.retrieve(list(updates), False, False)}
        for point_id, fields in updates.items():
            if point_id in known:  # the engine refuses an unknown id
                shard.update(E.UpdateOperation.set_payload([point_id], fields))
        shard.flush()

    def payloads(self, name: str) -> list[dict[str, Any]]:
        shard = self._shard(name)
        out: list[dict[str, Any]] = []
        offset = None
        while True:
            records, offset = shard.scroll(
                E.ScrollRequest(offset=offset, limit=1000, with_payload=True, with_vector=False)
            )
            out.extend(dict(r.payload) for r in records)
            if offset is None:
                return out

    def search(
        self,
        name: str,
        dense: Sequence[float],
        sparse: SparseVec,
        toolkits: ToolkitFilter,
        limit: int,
        *,
        similarity: Sequence[float] | None = None,
    ) -> SearchHits:
        if toolkits.matches_nothing:
            return SearchHits([], [], {} if similarity is not None else None)
        flt = _filter(toolkits)
        nearest = E.Query.Nearest(list(dense), using=DENSE)
        requests = [
            E.QueryRequest(
                limit=limit, query=nearest, filter=flt, with_payload=False, params=self._params
            )
        ]
        if similarity is not None:
            # the dense hits again, scored by their cosine to the similarity vector
            requests.append(
                E.QueryRequest(
                    limit=limit,
                    prefetches=[
                        E.Prefetch(limit=limit, query=nearest, filter=flt, params=self._params)
                    ],
                    query=E.Query.Nearest(list(similarity), using=DENSE),
                    with_payload=False,
                )
            )
        if sparse.indices:
            requests.append(
                E.QueryRequest(
                    limit=limit,
                    query=E.Query.Nearest(
                        E.SparseVector(indices=list(sparse.indices), values=list(sparse.values)),
                        using=SPARSE,
                    ),
                    filter=flt,
                    with_payload=False,
                )
            )
        results = self._shard(name).query_batch(E.QueryBatchRequest(queries=requests))
        hits = [[Hit(str(p.id), float(p.score)) for p in result] for result in results]
        return search_hits(hits, with_similarity=similarity is not None)

    def live(self) -> str | None:
        try:
            pointer = json.loads((self._root / _LIVE).read_text())
        except FileNotFoundError:
            return None
        name = pointer.get("collection")
        return str(name) if name and (self._collections / name).is_dir() else None

    def set_live(self, name: str) -> None:
        if not (self._collections / name).is_dir():
            raise KeyError(f"no collection {name!r}")
        tmp = self._root / f".{_LIVE}.{os.getpid()}.tmp"
        with tmp.open("w") as fh:
            json.dump({"collection": name}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._root / _LIVE)

    def collections(self) -> list[str]:
        return sorted(p.name for p in self._collections.iterdir() if p.is_dir())

    def drop_collection(self, name: str) -> None:
        with self._lock:
            shard = self._shards.pop(name, None)
        if shard is not None:
            shard.close()
        shutil.rmtree(self._collections / name, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            shards, self._shards = list(self._shards.values()), {}
        for shard in shards:
            shard.close()


def _load(path: Path, root: Path) -> Any:
    try:
        return E.EdgeShard.load(str(path))
    except Exception as exc:
        if _HELD.search(str(exc)):
            raise IndexLockedError(str(root)) from exc
        raise


def _filter(toolkits: ToolkitFilter) -> E.Filter | None:
    must: list[Any] = []
    must_not: list[Any] = []
    if toolkits.include is not None:
        must.append(_toolkit_in(toolkits.include))
    if toolkits.exclude:
        must_not.append(_toolkit_in(toolkits.exclude))
    if not must and not must_not:
        return None
    return E.Filter(must=must or None, must_not=must_not or None)


def _toolkit_in(toolkits: frozenset[str]) -> E.FieldCondition:
    return E.FieldCondition(key="toolkit", match=E.MatchAny(any=sorted(toolkits)))
