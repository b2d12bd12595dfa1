"""``CapabilityIndex``: the one object the API and CLI use; wires the parts from Settings."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from lucy.capability_index.build import BuildReport, Progress, build_index
from lucy.capability_index.cache import InProcessCache, NoCache, RedisCache, TieredCache
from lucy.capability_index.cache_stats import CacheStats, KindCounts
from lucy.capability_index.catalog import Catalog, load_catalog
from lucy.capability_index.connections import (
    CachedConnectionStore,
    ConnectionStore,
    namespace,
    parse_namespace,
)
from lucy.capability_index.documents import from_payload
from lucy.capability_index.embedder import (
    Embedder,
    SentenceTransformerEmbedder,
    embedder_id,
)
from lucy.capability_index.invalidation import EVERYTHING, InvalidationBus
from lucy.capability_index.provider_connections import (
    CachedReader,
    ConnectionReader,
    RoutedConnections,
)
from lucy.capability_index.query_batcher import QueryBatcher
from lucy.capability_index.retriever import RetrievalScope, Retriever
from lucy.capability_index.serving import LocalServing, RedisServing, ServingVersions
from lucy.capability_index.shared_schemas import SharedSchemas
from lucy.capability_index.shared_vectors import SharedQueryVectors
from lucy.capability_index.snapshot import SnapshotCache
from lucy.capability_index.sources import catalog_listing, merge_listings
from lucy.capability_index.store import VectorStore
from lucy.capability_index.tags import bundled_overrides
from lucy.errors import IndexNotReadyError, InvalidRequestError, UnknownToolError
from lucy.models import RetrievalResult, SourceListing, ToolkitInfo, ToolSpec, point_id
from lucy.settings import Settings
from lucy.store import SyncConnections, check_id, database_url

_LIVE_TTL = 2.0  # seconds a replica trusts its idea of the live version
_TOOLS = "tools:"  # an invalidation message prefix: a version's payloads changed
_SCHEMAS_TTL = 600.0  # seconds a version's schemas stay in Redis (bounds a stale copy)


class ToolUsage(Protocol):
    """One tool's usage counters (``lucy.store.UsageStats`` fits)."""

    @property
    def calls(self) -> int: ...

    @property
    def successes(self) -> int: ...


_EMPTY = Catalog(tools=(), toolkits={})


def make_store(settings: Settings) -> VectorStore:
    if settings.qdrant_url:
        from qdrant_client import QdrantClient

        from lucy.capability_index.server_store import ServerStore

        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        client = QdrantClient(url=settings.qdrant_url, api_key=key, timeout=10)
        return ServerStore(client, prefix=settings.collection_prefix)
    from lucy.capability_index.edge_store import EdgeStore

    return EdgeStore(settings.index_dir / "edge")


def make_redis_cache(settings: Settings) -> RedisCache | None:
    if not settings.redis_url:
        return None
    return RedisCache(
        settings.redis_url,
        timeout=settings.redis_timeout_seconds,
        backoff_seconds=settings.redis_backoff_seconds,
    )


def make_cache(
    settings: Settings, redis_cache: RedisCache | None, stats: CacheStats
) -> TieredCache:
    """This process's TTL tier in front of Redis (with no Redis: in front of nothing, with the
    whole TTL; with Redis the local tier keeps entries ≤ 5 s, as a missed pub/sub message
    must not leave a replica stale for long)."""
    if redis_cache is None:
        return TieredCache(InProcessCache(ttl=settings.cache_ttl_seconds), NoCache(), stats=stats)
    return TieredCache(
        InProcessCache(ttl=min(settings.cache_ttl_seconds, 5.0)),
        redis_cache,
        l2_ttl=settings.cache_ttl_seconds,
        stats=stats,
    )


@dataclass
class _LiveView:
    version: str
    checked: float


class CapabilityIndex:
    def __init__(
        self,
        settings: Settings,
        *,
        store: VectorStore | None = None,
        embedder: Embedder | None = None,
        catalog: Catalog | None = None,
        connections: ConnectionStore | None = None,
        readers: Sequence[ConnectionReader] = (),
    ) -> None:
        """``catalog`` is the local catalog (default: ``LUCY_CATALOG_PATH`` or the demo one,
        none when ``LUCY_DEMO_CATALOG`` is off); ``connections`` the store of the toolkits no
        provider owns (default: the database, ``LUCY_DATABASE_URL``, migrated to the latest
        schema, with an older ``connections.json`` imported once), put behind the cache
        here; ``readers`` say which toolkits of each provider a workspace has connected."""
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if catalog is None:
            catalog = load_catalog(settings.catalog_path) if settings.demo_catalog else _EMPTY
        self.catalog = catalog
        self.store = store or make_store(settings)
        self.stats = CacheStats()
        self._redis = make_redis_cache(settings)
        self.cache = cache = make_cache(settings, self._redis, self.stats)
        self.embedder = embedder or SentenceTransformerEmbedder.from_settings(
            settings, shared=self._shared_vectors(), stats=self.stats
        )
        self._owned_store: SyncConnections | None = None
        if connections is None:
            connections = self._owned_store = SyncConnections.migrated(
                database_url(settings.database_url, settings.data_dir),
                demo_toolkits=self.catalog.toolkits,
                import_from=settings.data_dir / "connections.json",
            )
        local = CachedConnectionStore(connections, cache, ttl=settings.cache_ttl_seconds)
        self.connections = RoutedConnections(
            local,
            [
                CachedReader(
                    r,
                    cache,
                    ttl=settings.cache_ttl_seconds,
                    cold_wait=settings.connection_cold_wait_seconds,
                )
                for r in readers
            ],
            self.toolkit_owners,
        )
        self.serving: ServingVersions = (
            RedisServing(settings.redis_url) if settings.redis_url else LocalServing()
        )
        self.bus: InvalidationBus | None = None
        if settings.redis_url:
            self.bus = InvalidationBus(settings.redis_url, self._forget_locally)
            self.bus.start()
        self._lock = threading.Lock()
        self._view: _LiveView | None = None
        self.snapshots = SnapshotCache(
            self.store,
            stats=self.stats,
            shared=None if self._redis is None else SharedSchemas(self._redis, ttl=_SCHEMAS_TTL),
        )
        embedder = self.embedder
        self.query_batcher = QueryBatcher(
            embedder.encode_queries,
            window_seconds=settings.embedding_batch_window_ms / 1000,
            cached=embedder.cached if isinstance(embedder, SentenceTransformerEmbedder) else None,
        )
        self.retriever = Retriever(
            self.store,
            self.embedder,
            live_collection=self.live_version,
            snapshots=self.snapshots,
            weights=settings.retrieval,
            overrides=bundled_overrides(),
        )

    def _shared_vectors(self) -> SharedQueryVectors | None:
        if self._redis is None:
            return None
        return SharedQueryVectors(
            self._redis,
            embedder_id(self.settings.embedding_model, self.settings.embedding_backend),
            ttl=self.settings.query_vector_ttl_seconds,
        )

    def cache_counts(self) -> dict[str, KindCounts]:
        """Hits and misses per kind of cached value in this process since it started."""
        return self.stats.counts()

    # -- versions -------------------------------------------------------------------------

    def live_version(self) -> str:
        """The live collection; raises IndexNotReadyError before the first build."""
        view = self._view
        now = time.monotonic()
        if view is None or now - view.checked > _LIVE_TTL:
            live = self.store.live()
            if live is None:
                raise IndexNotReadyError("no index has been built yet: run `lucy index build`")
            with self._lock:
                if self._view is None or self._view.version != live:
                    self._view = _LiveView(live, now)
                else:
                    self._view.checked = now
                view = self._view
            self.serving.serve(view.version)  # a build keeps it while this replica serves it
        return view.version

    def check_live(self) -> str:
        """The live version, if this process can search it: raises IndexNotReadyError before
        the first build, EmbedderMismatchError when another model or runtime made it."""
        version = self.live_version()
        self.snapshots.get(version).check_embedder(self.embedder.model_id)
        return version

    def ready(self) -> bool:
        try:
            self.check_live()
        except IndexNotReadyError:
            return False
        return True

    def warm(self) -> None:
        """Load the live version's payloads and run the model once, so the first request
        does not pay for either (no-op before the first build)."""
        if self.ready():
            self.snapshots.get(self.live_version())
            self.embedder.encode_query("warm up")

    def build(
        self,
        progress: Progress | None = None,
        listings: Sequence[SourceListing] = (),
        *,
        before_live: Callable[[], None] | None = None,
    ) -> BuildReport:
        """A new version from the local catalog and the providers' ``listings``, made live
        (after ``before_live`` returns). A slug or toolkit that two sources offer is a
        ``CatalogError``; nothing is written."""
        local = [catalog_listing(self.catalog)] if self.catalog.tools else []
        report = build_index(
            self.store,
            self.embedder,
            merge_listings([*local, *listings]),
            prefix=self.settings.collection_prefix,
            progress=progress,
            before_live=before_live,
            in_use=self.serving.in_use,
            views=self.settings.document_views,
            runtime=self._runtime(),
        )
        with self._lock:
            self._view = None
        return report

    def _runtime(self) -> str | None:
        embedder = self.embedder
        return embedder.backend if isinstance(embedder, SentenceTransformerEmbedder) else None

    def status(self) -> dict[str, Any]:
        live = self.store.live()
        snapshot = self.snapshots.get(live) if live else None
        providers: dict[str, int] = {}
        runtimes: set[str] = set()
        for payload in snapshot.by_id.values() if snapshot else ():
            providers[payload["provider"]] = providers.get(payload["provider"], 0) + 1
            runtimes.add(payload.get("runtime", "torch"))  # before there was a choice: torch
        return {
            "live_version": live,
            "backend": "qdrant-server" if self.settings.qdrant_url else "qdrant-edge",
            "collections": self.store.collections(),
            "tools": len(snapshot.by_id) if snapshot else 0,
            "toolkits": len(snapshot.toolkit_names) if snapshot else 0,
            "tools_by_provider": providers,
            "catalog_tools": len(self.catalog.tools),
            "catalog_toolkits": len(self.catalog.toolkits),
            "embedder": self.embedder.model_id,
            "embedding_backend": self._runtime(),
            "index_embedders": sorted(snapshot.embedders) if snapshot else [],
            "index_runtimes": sorted(runtimes),
        }

    # -- reads ----------------------------------------------------------------------------

    def tool(self, slug: str) -> ToolSpec:
        payload = self.snapshots.get(self.live_version()).by_slug.get(slug)
        if payload is None:
            raise UnknownToolError(slug)
        return from_payload(payload)

    def retrieve(
        self,
        query: str,
        *,
        workspace_id: str,
        user_id: str | None = None,
        k: int | None = None,
        toolkits: list[str] | None = None,
    ) -> RetrievalResult:
        """Top-k connected tools for ``query`` and the unconnected toolkits that would fit."""
        text, k, restrict = self._checked(query, workspace_id, user_id, k, toolkits)
        connected = self.connections.toolkits(workspace_id, user_id)
        return self.retriever.retrieve(text, RetrievalScope(connected, restrict), k)

    async def aretrieve(
        self,
        query: str,
        *,
        workspace_id: str,
        user_id: str | None = None,
        k: int | None = None,
        toolkits: list[str] | None = None,
    ) -> RetrievalResult:
        """``retrieve`` for the event loop: the query's texts are embedded together with
        concurrent requests' (``query_batcher``); the connection read, search and re-scoring,
        which may block, run on a worker thread."""
        checked = partial(self._checked, query, workspace_id, user_id, k, toolkits)
        # checking named toolkits reads the live version's toolkits (the store): off the loop
        text, top_k, restrict = checked() if toolkits is None else await asyncio.to_thread(checked)
        plan = self.retriever.plan(text)
        started = time.perf_counter()
        vectors = await self.query_batcher.encode(plan.inputs)
        embed_seconds = time.perf_counter() - started

        def rank() -> RetrievalResult:
            scope = RetrievalScope(self.connections.toolkits(workspace_id, user_id), restrict)
            return self.retriever.rank(plan, vectors, scope, top_k, embed_seconds=embed_seconds)

        return await asyncio.to_thread(rank)

    def _checked(
        self,
        query: str,
        workspace_id: str,
        user_id: str | None,
        k: int | None,
        toolkits: list[str] | None,
    ) -> tuple[str, int, frozenset[str] | None]:
        """The request's text (whitespace collapsed), k and toolkit restriction, or an
        InvalidRequestError naming the field at fault."""
        text = " ".join(query.split())
        if not text:
            raise InvalidRequestError("query is empty", field="query")
        if len(text) > self.settings.max_query_chars:
            raise InvalidRequestError(
                f"query has {len(text)} characters; the limit is {self.settings.max_query_chars}",
                field="query",
            )
        k = self.settings.default_k if k is None else k
        if not 1 <= k <= self.settings.max_k:
            raise InvalidRequestError(f"k must be between 1 and {self.settings.max_k}", field="k")
        check_id(workspace_id, "workspace_id")
        if user_id is not None:
            check_id(user_id, "user_id")
        restrict = None if toolkits is None else frozenset(self._known(toolkits))
        return text, k, restrict

    # -- connections ----------------------------------------------------------------------

    def connected(self, workspace_id: str, user_id: str | None = None) -> list[str]:
        return sorted(self.connections.toolkits(workspace_id, user_id))

    def connect(
        self, workspace_id: str, toolkits: list[str], user_id: str | None = None
    ) -> list[str]:
        self.connections.connect(workspace_id, self._known(toolkits), user_id)
        self._tell_replicas(workspace_id, user_id)
        return self.connected(workspace_id, user_id)

    def disconnect(
        self, workspace_id: str, toolkits: list[str], user_id: str | None = None
    ) -> list[str]:
        self.connections.disconnect(workspace_id, self._known(toolkits), user_id)
        self._tell_replicas(workspace_id, user_id)
        return self.connected(workspace_id, user_id)

    def invalidate_connections(self, workspace_id: str, user_id: str | None = None) -> None:
        """Forget one owner's connection state (the workspace's, or ``user_id``'s own) here,
        in Redis and on every replica: the next read asks the store and the providers again.
        The other users' cached parts stay (a user can use the union of both parts)."""
        check_id(workspace_id, "workspace_id")
        if user_id is not None:
            check_id(user_id, "user_id")
        self.connections.invalidate(workspace_id, user_id)
        self._tell_replicas(workspace_id, user_id)

    def forget_owners(
        self, owners: Iterable[tuple[str, str | None]]
    ) -> list[tuple[str, str | None]]:
        """``invalidate_connections`` for each distinct (workspace, user) a provider reported;
        an id Lucy would refuse (a provider's id can name owners that are not Lucy's) is
        skipped. Returns the owners forgotten."""
        forgotten: list[tuple[str, str | None]] = []
        for owner in dict.fromkeys(owners):
            try:
                self.invalidate_connections(*owner)
            except InvalidRequestError:
                continue
            forgotten.append(owner)
        return forgotten

    def _tell_replicas(self, workspace_id: str, user_id: str | None) -> None:
        if self.bus is not None:
            self.bus.publish(namespace(workspace_id, user=user_id))

    def _forget_locally(self, message: str) -> None:
        """Another replica (or this one) invalidated a workspace's connection state, or the
        listener lost Redis for a while (``EVERYTHING``): drop it from this process's tier."""
        if message == EVERYTHING:
            self.connections.forget_known()
            self.cache.invalidate_local()
            self.snapshots.forget()
        elif message.startswith(_TOOLS):
            self.snapshots.forget(message.removeprefix(_TOOLS))
        elif (owner := parse_namespace(message)) is not None:
            # forget first (a read under way here is then not cached), then delete: in Redis
            # too, in case a read here that began before the change stored its answer there
            self.connections.forget_known(*owner)
            for where in self.connections.namespaces(*owner):
                self.cache.invalidate(where)

    def connect_link(self, toolkit: str, workspace_id: str, user_id: str | None) -> str | None:
        """Where a person connects ``toolkit``: ``LUCY_CONNECT_URL_TEMPLATE`` when set, else
        the owning provider's link (a blocking call), else None."""
        template = self.settings.connect_url_template
        if template:
            return template.format(toolkit=toolkit, workspace_id=workspace_id)
        reader = self.connections.owner(toolkit)
        if reader is None:
            return None
        try:
            return reader.reader.connect_link(toolkit, workspace_id, user_id)
        except Exception:  # a link is a courtesy: the reply names the toolkit without one
            return None

    def live_listings(self, providers: set[str]) -> list[SourceListing]:
        """What the live index holds from ``providers``, as listings (a targeted refresh
        re-lists one provider and keeps the others' tools as they are)."""
        try:
            snapshot = self.snapshots.get(self.live_version())
        except IndexNotReadyError:
            return []
        tools: dict[str, list[ToolSpec]] = {p: [] for p in providers}
        for payload in snapshot.by_id.values():
            if payload["provider"] in tools:
                tools[payload["provider"]].append(from_payload(payload))
        return [
            SourceListing(
                provider=provider,
                toolkits=tuple(
                    ToolkitInfo(toolkit=tk, name=snapshot.toolkit_names[tk])
                    for tk in sorted({t.toolkit for t in specs})
                ),
                tools=tuple(sorted(specs, key=lambda t: t.slug)),
            )
            for provider, specs in tools.items()
            if specs
        ]

    def apply_usage(self, stats: Mapping[str, ToolUsage]) -> int:
        """Write each tool's calls and successes into the live version's payloads (the
        retriever's usage prior reads them) and have every replica read that version again.
        Tools the live version lacks are skipped; returns how many payloads changed."""
        try:
            live = self.live_version()
        except IndexNotReadyError:
            return 0
        snapshot = self.snapshots.get(live)
        updates: dict[str, dict[str, Any]] = {}
        for slug, figures in stats.items():
            payload = snapshot.by_slug.get(slug)
            usage = {"calls": figures.calls, "successes": figures.successes}
            if payload is not None and payload.get("usage") != usage:
                updates[point_id(payload["provider"], slug)] = {"usage": usage}
        if updates:
            self.store.set_payload(live, updates)
            self.snapshots.forget(live, shared=True)
            if self.bus is not None:
                self.bus.publish(_TOOLS + live)
        return len(updates)

    def toolkit_owners(self) -> Mapping[str, str]:
        """Each toolkit of the live index, with the provider that owns it."""
        try:
            live = self.live_version()
        except IndexNotReadyError:
            return {}
        return self.snapshots.get(live).toolkit_providers

    def _known(self, toolkits: list[str]) -> list[str]:
        if not toolkits:
            raise InvalidRequestError("name at least one toolkit", field="toolkits")
        known = set(self.catalog.toolkits)
        if self.ready():
            known |= set(self.snapshots.get(self.live_version()).toolkit_names)
        unknown = sorted(set(toolkits) - known)
        if unknown:
            raise InvalidRequestError(
                f"unknown toolkits {unknown}; known: {sorted(known)}", field="toolkits"
            )
        return toolkits

    def close(self) -> None:
        self.query_batcher.close()
        self.serving.close()
        if self.bus is not None:
            self.bus.close()
        self.connections.close()
        if self._redis is not None:
            self._redis.close()
        if self._owned_store is not None:
            self._owned_store.close()
        self.store.close()
