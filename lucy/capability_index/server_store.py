"""The production store: a Qdrant server (or cluster) through qdrant-client.

Builds go to new collections; the alias ``<prefix>_live`` names the live one and is swapped
in one ``update_collection_aliases`` call, so readers never see a half-built index.
``QdrantClient(":memory:")`` stands in for the server in tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qdrant_client import QdrantClient, models

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

_BATCH = 256


class ServerStore:
    def __init__(self, client: QdrantClient, *, prefix: str, hnsw_ef: int = 128) -> None:
        self._client = client
        self._prefix = prefix
        self._alias = f"{prefix}_live"
        opts = client.init_options
        # qdrant-client's local mode (tests) scans exactly and warns about indexes and params
        self._local = opts.get("location") == ":memory:" or bool(opts.get("path"))
        self._params = None if self._local else models.SearchParams(hnsw_ef=hnsw_ef)

    def create_collection(self, name: str, dense_size: int) -> None:
        if self._client.collection_exists(name):
            raise FileExistsError(f"collection {name!r} exists")
        self._client.create_collection(
            name,
            vectors_config={
                DENSE: models.VectorParams(size=dense_size, distance=models.Distance.COSINE)
            },
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        if not self._local:
            for key in INDEXED_FIELDS:
                self._client.create_payload_index(name, key, models.PayloadSchemaType.KEYWORD)

    def upsert(self, name: str, points: Sequence[IndexPoint]) -> None:
        for start in range(0, len(points), _BATCH):
            self._client.upsert(
                name,
                points=[
                    models.PointStruct(
                        id=p.id,
                        vector={
                            DENSE: list(p.dense),
                            SPARSE: models.SparseVector(
                                indices=list(p.sparse.indices), values=list(p.sparse.values)
                            ),
                        },
                        payload=p.payload,
                    )
                    for p in points[start : start + _BATCH]
                ],
                wait=True,
            )

    def seal(self, name: str) -> None:
        # The server indexes in the background; nothing to force here.
        return None

    def fetch(self, name: str, ids: Sequence[str]) -> list[IndexPoint]:
        if not ids:
            return []
        records = self._client.retrieve(name, ids=list(ids), with_payload=True, with_vectors=True)
        out = []
        for r in records:
            vectors: Any = r.vector
            sparse = vectors[SPARSE]
            out.append(
                IndexPoint(
                    id=str(r.id),
                    dense=list(vectors[DENSE]),
                    sparse=SparseVec(tuple(sparse.indices), tuple(sparse.values)),
                    payload=dict(r.payload or {}),
                )
            )
        return out

    def set_payload(self, name: str, updates: Mapping[str, dict[str, Any]]) -> None:
        known = {str(r.id) for r in self._client.retrieve(name, ids=list(updates))}
        operations = [
            models.SetPayloadOperation(set_payload=models.SetPayload(payload=f, points=[i]))
            for i, f in updates.items()
            if i in known
        ]
        for start in range(0, len(operations), _BATCH):
            self._client.batch_update_points(name, operations[start : start + _BATCH], wait=True)

    def payloads(self, name: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        offset = None
        while True:
            records, offset = self._client.scroll(
                name, limit=1000, offset=offset, with_payload=True, with_vectors=False
            )
            out.extend(dict(r.payload or {}) for r in records)
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
        requests = [
            models.QueryRequest(
                query=list(dense),
                using=DENSE,
                filter=flt,
                limit=limit,
                with_payload=False,
                params=self._params,
            )
        ]
        if similarity is not None:
            # the dense hits again, scored by their cosine to the similarity vector
            requests.append(
                models.QueryRequest(
                    prefetch=models.Prefetch(
                        query=list(dense), using=DENSE, filter=flt, limit=limit, params=self._params
                    ),
                    query=list(similarity),
                    using=DENSE,
                    limit=limit,
                    with_payload=False,
                )
            )
        if sparse.indices:
            requests.append(
                models.QueryRequest(
                    query=models.SparseVector(
                        indices=list(sparse.indices), values=list(sparse.values)
                    ),
                    using=SPARSE,
                    filter=flt,
                    limit=limit,
                    with_payload=False,
                )
            )
        responses = self._client.query_batch_points(name, requests=requests)
        hits = [[Hit(str(p.id), float(p.score)) for p in r.points] for r in responses]
        return search_hits(hits, with_similarity=similarity is not None)

    def live(self) -> str | None:
        for alias in self._client.get_aliases().aliases:
            if alias.alias_name == self._alias:
                return alias.collection_name
        return None

    def set_live(self, name: str) -> None:
        if not self._client.collection_exists(name):
            raise KeyError(f"no collection {name!r}")
        actions: list[Any] = []
        if self.live() is not None:
            actions.append(
                models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=self._alias))
            )
        actions.append(
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=name, alias_name=self._alias)
            )
        )
        self._client.update_collection_aliases(change_aliases_operations=actions)

    def collections(self) -> list[str]:
        return sorted(
            c.name
            for c in self._client.get_collections().collections
            if c.name.startswith(self._prefix + "_v")
        )

    def drop_collection(self, name: str) -> None:
        self._client.delete_collection(name)

    def close(self) -> None:
        self._client.close()


def _filter(toolkits: ToolkitFilter) -> models.Filter | None:
    must: list[models.Condition] = []
    must_not: list[models.Condition] = []
    if toolkits.include is not None:
        must.append(_toolkit_in(toolkits.include))
    if toolkits.exclude:
        must_not.append(_toolkit_in(toolkits.exclude))
    if not must and not must_not:
        return None
    return models.Filter(must=must or None, must_not=must_not or None)


def _toolkit_in(toolkits: frozenset[str]) -> models.FieldCondition:
    return models.FieldCondition(key="toolkit", match=models.MatchAny(any=sorted(toolkits)))
