"""A version's tool schemas shared by every replica through Redis: after a refresh one replica
reads the new version from the vector store and the others read it from Redis (one key per
version, ``lucy:tools:<version>``, zlib-compressed JSON, with an expiry).

A version's payloads change only when the usage roll-up writes its figures; the roll-up drops
the key, and the expiry bounds how long a copy written by a replica that read just before the
roll-up can last (only usage figures can be that old).
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any, Protocol

from lucy.capability_index.shared_vectors import PlainKeys


class SharedKeys(PlainKeys, Protocol):
    """``RedisCache``'s plain-key calls, and deleting one (``invalidate``)."""

    def invalidate(self, namespace: str) -> bool: ...


class SharedSchemas:
    def __init__(self, keys: SharedKeys, *, ttl: float) -> None:
        self._keys = keys
        self._ttl = ttl

    def get(self, version: str) -> list[dict[str, Any]] | None:
        (value,) = self._keys.get_values([_key(version)])
        if value is None:
            return None
        payloads: list[dict[str, Any]] = json.loads(zlib.decompress(base64.b64decode(value)))
        return payloads

    def put(self, version: str, payloads: list[dict[str, Any]]) -> None:
        packed = zlib.compress(json.dumps(payloads, separators=(",", ":")).encode(), 6)
        self._keys.set_values({_key(version): base64.b64encode(packed).decode()}, self._ttl)

    def drop(self, version: str) -> None:
        self._keys.invalidate(_key(version))


def _key(version: str) -> str:
    return f"tools:{version}"
