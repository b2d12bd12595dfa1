"""Query embeddings shared by every replica through Redis: a request one replica embedded is
not embedded again on another.

Each vector is one Redis string with its own expiry, keyed by the model and the exact text the
model saw (a query template is part of that text), stored as base64 float32: the model's own
precision, so a vector read back equals the one computed.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np


class PlainKeys(Protocol):
    """``RedisCache``'s plain-key calls (failing open: misses and no-ops on error)."""

    def get_values(self, keys: list[str]) -> list[str | None]: ...

    def set_values(self, values: dict[str, str], ttl: float) -> None: ...


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


class SharedQueryVectors:
    def __init__(self, keys: PlainKeys, model_id: str, *, ttl: float) -> None:
        self._keys = keys
        self._prefix = f"qvec:{_digest(model_id, 12)}:"
        self._ttl = ttl

    def get_many(self, texts: Sequence[str]) -> dict[str, list[float]]:
        """The vectors Redis holds for ``texts`` (absent ones left out)."""
        values = self._keys.get_values([self._key(t) for t in texts])
        return {t: _decode(v) for t, v in zip(texts, values, strict=True) if v is not None}

    def put_many(self, vectors: Mapping[str, list[float]]) -> None:
        self._keys.set_values({self._key(t): _encode(v) for t, v in vectors.items()}, self._ttl)

    def _key(self, text: str) -> str:
        return self._prefix + _digest(text, 32)


def _encode(vector: list[float]) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


def _decode(value: str) -> list[float]:
    decoded: list[float] = np.frombuffer(base64.b64decode(value), dtype="<f4").tolist()
    return decoded
