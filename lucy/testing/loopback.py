"""Serving an ASGI app on 127.0.0.1 from a background thread, for tests and benchmarks that
need real HTTP (an OS-chosen port; the app's lifespan runs unless turned off)."""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType
from typing import Any, Literal

import uvicorn

_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0
_SLEEP_TICK_S = 0.02


async def sleep_unless(stopping: threading.Event, seconds: float) -> None:
    """Sleep ``seconds`` without blocking the loop; return early once ``stopping`` is set (a
    double's slow answer must not hold up its server's shutdown)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not stopping.is_set():
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        await asyncio.sleep(min(remaining, _SLEEP_TICK_S))


class LoopbackServer:
    """``with LoopbackServer(app) as server: server.url`` — ``http://127.0.0.1:PORT``."""

    def __init__(
        self,
        app: Any,
        *,
        lifespan: Literal["on", "off"] = "on",
        name: str = "",
        port: int = 0,
        graceful_seconds: int | None = None,
    ) -> None:
        """``port`` 0 lets the OS choose; ``graceful_seconds`` bounds how long stopping waits
        for open requests (None: uvicorn's default, no bound)."""
        self._app = app
        self._lifespan = lifespan
        self._name = name or "loopback-server"
        self._port = port
        self._graceful = graceful_seconds
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Serve; return once the socket is bound (and the lifespan has started)."""
        if self._thread is not None:
            raise RuntimeError(f"{self._name} is already running")
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self._port,
            loop="asyncio",
            ws="none",
            lifespan=self._lifespan,
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=self._graceful,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=self._name, daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self._name} failed to start")
            time.sleep(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        """Stop serving (running the lifespan's shutdown) and join the thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(_STOP_TIMEOUT_S)
        if thread.is_alive():
            server.force_exit = True
            thread.join(_STOP_TIMEOUT_S)
        self._server = self._thread = None
        self.url = ""

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
