"""Telling every replica to forget something: Redis pub/sub over the in-process cache tier.

An invalidation deletes the key in Redis (the shared tier) and publishes the same namespace on
``lucy:invalidate``; every replica, the sender included, drops it from its in-process tier and
whatever it derived from it. A replica that cannot reach Redis keeps serving: its in-process
entries then live at most their short TTL (``TieredCache`` keeps them ≤ 5 s). The listener
reconnects with a capped backoff; having missed what was published meanwhile, it then delivers
``EVERYTHING`` so the replica drops its whole in-process tier. It never blocks a request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from lucy.capability_index.cache import fail_fast_redis

log = logging.getLogger(__name__)

CHANNEL = "lucy:invalidate"
EVERYTHING = "*"
_POLL_SECONDS = 0.2  # how often the listener wakes to see whether it should stop
_MAX_BACKOFF_SECONDS = 5.0


class InvalidationBus:
    """Publishes namespaces to drop and runs ``on_message(namespace)`` for each one received.

    ``start()`` begins listening in a daemon thread; ``close()`` stops it."""

    def __init__(
        self,
        url: str,
        on_message: Callable[[str], None],
        *,
        channel: str = CHANNEL,
        timeout: float = 0.05,
    ) -> None:
        self._publisher = fail_fast_redis(url, timeout=timeout)
        self._url = url
        self._on_message = on_message
        self._channel = channel
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0
        self.received = 0

    def publish(self, namespace: str) -> bool:
        """Tell every replica; False (logged) when Redis cannot be reached."""
        try:
            self._publisher.publish(self._channel, namespace)
        except redis.RedisError as exc:
            log.warning("could not publish invalidation of %s: %s", namespace, exc)
            return False
        self.published += 1
        return True

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._listen, name="lucy-invalidation", daemon=True)
        self._thread.start()

    def wait_subscribed(self, timeout: float) -> bool:
        """Whether the listener is subscribed (for tests and start-up checks)."""
        return self._subscribed.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * _POLL_SECONDS + 1)
            self._thread = None
        self._publisher.close()

    def _listen(self) -> None:
        backoff = 0.1
        lost = False
        while not self._stop.is_set():
            client = redis.Redis.from_url(
                self._url, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 0)
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self._channel)
                self._subscribed.set()
                if lost:  # what was published meanwhile never arrived
                    self._deliver(EVERYTHING)
                    lost = False
                backoff = 0.1
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=_POLL_SECONDS)
                    if message is not None and message.get("type") == "message":
                        self._deliver(message["data"])
            except (redis.RedisError, OSError) as exc:
                self._subscribed.clear()
                lost = True
                log.warning(
                    "invalidation listener lost Redis (%s); retrying in %.1fs", exc, backoff
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
            finally:
                pubsub.close()
                client.close()

    def _deliver(self, data: bytes | str) -> None:
        namespace = data.decode() if isinstance(data, bytes) else data
        self.received += 1
        try:
            self._on_message(namespace)
        except Exception:  # one bad handler run must not stop the listener
            log.exception("invalidation of %s failed", namespace)
