"""Micro-batching of query embeddings: concurrent requests share one model call.

A request whose texts are all in the embedder's LRU gets them at once, on the event loop.
The others queue; the first one to queue starts a drain that waits ``window`` seconds (so
what arrives meanwhile joins), then runs the model once for every queued text on the one
embedding thread, and hands each request its own rows. Texts that arrive while the model
runs form the next batch, which starts as soon as the model is free: under load the window
is paid once, and the batch grows with the queue instead of the queue growing behind a lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

Vectors = list[list[float]]


class QueryBatcher:
    def __init__(
        self,
        encode: Callable[[list[str]], Vectors],
        *,
        window_seconds: float,
        cached: Callable[[Sequence[str]], Vectors | None] | None = None,
    ) -> None:
        """``encode`` embeds query texts (one model call; it may block); ``cached`` returns
        every text's vector when all are cached in memory, else None (it must not block)."""
        self._encode = encode
        self._cached = cached
        self._window = window_seconds
        self._pending: list[tuple[list[str], asyncio.Future[Vectors]]] = []
        self._drain: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="lucy-embed")
        self.batches = 0  # model calls made (tests read it)

    async def encode(self, texts: Sequence[str]) -> Vectors:
        """The vectors of ``texts``, in order, embedded together with concurrent callers'."""
        if self._cached is not None:
            found = self._cached(texts)
            if found is not None:
                return found
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Vectors] = loop.create_future()
        self._pending.append((list(texts), future))
        drain = self._drain
        if drain is None or drain.done() or drain.get_loop() is not loop:
            self._drain = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        if self._window > 0:
            await asyncio.sleep(self._window)
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            flat = [text for texts, _ in batch for text in texts]
            self.batches += 1
            try:
                vectors = await loop.run_in_executor(self._thread, self._encode, flat)
            except Exception as exc:  # every caller of this batch sees the model's error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for texts, future in batch:
                if not future.done():  # a caller that went away (cancelled) is skipped
                    future.set_result(vectors[start : start + len(texts)])
                start += len(texts)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
