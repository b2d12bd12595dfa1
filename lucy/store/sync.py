"""Blocking access to the database for synchronous callers (the capability index): a private
event loop on a background thread runs the async stores; any number of threads may call in."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

from lucy.store.database import Database
from lucy.store.migrate import upgrade

T = TypeVar("T")


class LoopThread:
    """An event loop running on its own daemon thread until ``close``."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result (or exception)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("LoopThread.run called from its own loop: it would wait forever")
        if self._loop.is_closed() or not self._thread.is_alive():
            coro.close()
            raise RuntimeError("the loop thread is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        """Stop the loop and wait for the thread to end."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()


class SyncConnections:
    """The ``ConnectionStore`` protocol (``lucy.capability_index.connections``) over the
    database: ``toolkits``, ``connect``, ``disconnect`` block the calling thread. A database
    that is down raises ``BackendUnavailableError`` from reads and writes alike; serving a
    cached answer instead is the caller's choice."""

    def __init__(
        self,
        url: str,
        *,
        demo_toolkits: Iterable[str] = (),
        connect_timeout: float = 5.0,
        statement_timeout: float | None = 30.0,
    ) -> None:
        self._loop = LoopThread("lucy-store")
        try:
            self._db = self._loop.run(
                Database.open(
                    url,
                    demo_toolkits=demo_toolkits,
                    connect_timeout=connect_timeout,
                    statement_timeout=statement_timeout,
                )
            )
        except BaseException:
            self._loop.close()
            raise
        self._closed = False
        self._close_lock = threading.Lock()

    @classmethod
    def migrated(
        cls, url: str, *, demo_toolkits: Iterable[str] = (), import_from: Path | None = None
    ) -> SyncConnections:
        """The store after bringing the schema to head (``upgrade``) and importing the
        connections of an older JSON file once (``import_from``, when it exists)."""
        store = cls(url, demo_toolkits=demo_toolkits)
        try:
            store._loop.run(upgrade(url))
            if import_from is not None:
                store._loop.run(store._db.connections.import_json(import_from))
        except BaseException:
            store.close()
            raise
        return store

    def toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        """Toolkits usable by ``user`` in ``workspace``: the workspace's plus the user's own."""
        return self._loop.run(self._db.connections.toolkits(workspace, user))

    def own_toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        """The workspace's own toolkits (``user`` None) or the user's alone."""
        return self._loop.run(self._db.connections.own_toolkits(workspace, user))

    def connect(self, workspace: str, toolkits: Iterable[str], user: str | None = None) -> None:
        self._loop.run(self._db.connections.connect(workspace, list(toolkits), user))

    def disconnect(self, workspace: str, toolkits: Iterable[str], user: str | None = None) -> None:
        self._loop.run(self._db.connections.disconnect(workspace, list(toolkits), user))

    def close(self) -> None:
        """Close the database and stop the thread; later calls raise ``RuntimeError``."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._loop.run(self._db.close())
        finally:
            self._loop.close()
