"""Micro-batching of query embeddings: concurrent /v1/retrieve requests share model calls
and each gets exactly the answer it would get alone."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence

import httpx
import pytest

from lucy.api import create_app
from lucy.capability_index.query_batcher import QueryBatcher
from lucy.capability_index.service import CapabilityIndex
from tests.conftest import make_settings

REQUESTS = [
    "create an issue in GitHub for the login crash",
    "what's on my calendar tomorrow?",
    "send an email to bob about the quarterly report and then post it in #eng",
    "find the Notion page about onboarding",
    "DM sarah that the build is green",
    "list my open pull requests",
    "schedule a meeting with the design team next tuesday and email them the agenda",
    "close the jira ticket for the flaky test",
]


class _Model:
    """Stands in for the model: a vector per text, a record of each call."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.gate.wait(5)
        self.calls.append(list(texts))
        if self.fail:
            raise RuntimeError("model broke")
        return [[float(len(t)), float(i)] for i, t in enumerate(texts)]


def test_concurrent_texts_go_to_the_model_together() -> None:
    asyncio.run(_concurrent_texts_go_to_the_model_together())


async def _concurrent_texts_go_to_the_model_together() -> None:
    model = _Model()
    batcher = QueryBatcher(model, window_seconds=0.002)
    try:
        got = await asyncio.gather(*(batcher.encode([f"q{i}", f"part {i}"]) for i in range(8)))
    finally:
        batcher.close()
    assert len(model.calls) == 1 and len(model.calls[0]) == 16
    for i, vectors in enumerate(got):  # each caller gets its own rows, in its order
        assert vectors == [[float(len(f"q{i}")), 2.0 * i], [float(len(f"part {i}")), 2.0 * i + 1]]


def test_texts_that_arrive_while_the_model_runs_form_the_next_batch() -> None:
    asyncio.run(_texts_that_arrive_while_the_model_runs_form_the_next_batch())


async def _texts_that_arrive_while_the_model_runs_form_the_next_batch() -> None:
    model = _Model()
    model.gate.clear()
    batcher = QueryBatcher(model, window_seconds=0)
    try:
        first = asyncio.ensure_future(batcher.encode(["a"]))
        await asyncio.sleep(0.05)  # the model is now busy with ["a"]
        later = [asyncio.ensure_future(batcher.encode([t])) for t in ("b", "c", "d")]
        await asyncio.sleep(0.05)
        model.gate.set()
        await asyncio.gather(first, *later)
    finally:
        batcher.close()
    assert model.calls == [["a"], ["b", "c", "d"]]


def test_a_model_error_reaches_every_caller_and_a_cancelled_one_is_skipped() -> None:
    asyncio.run(_a_model_error_reaches_every_caller_and_a_cancelled_one_is_skipped())


async def _a_model_error_reaches_every_caller_and_a_cancelled_one_is_skipped() -> None:
    model = _Model(fail=True)
    batcher = QueryBatcher(model, window_seconds=0.01)
    try:
        gone = asyncio.ensure_future(batcher.encode(["x"]))
        waiting = [asyncio.ensure_future(batcher.encode([t])) for t in ("y", "z")]
        await asyncio.sleep(0)
        gone.cancel()
        for future in waiting:
            with pytest.raises(RuntimeError, match="model broke"):
                await future
        model.fail = False
        assert await batcher.encode(["again"]) == [[5.0, 0.0]]  # the batcher still works
    finally:
        batcher.close()


def test_cached_texts_skip_the_queue() -> None:
    asyncio.run(_cached_texts_skip_the_queue())


async def _cached_texts_skip_the_queue() -> None:
    model = _Model()

    def cached(texts: Sequence[str]) -> list[list[float]] | None:
        return [[1.0]] * len(texts) if all(t.startswith("known") for t in texts) else None

    batcher = QueryBatcher(model, window_seconds=0.001, cached=cached)
    try:
        assert await batcher.encode(["known a", "known b"]) == [[1.0], [1.0]]
        assert model.calls == []
        await batcher.encode(["known a", "new"])
        assert model.calls == [["known a", "new"]]
    finally:
        batcher.close()


def _answer(result) -> dict:
    """The response body, as a client reads it, without its timings."""
    return json.loads(result.model_dump_json(exclude={"timings"}))


def test_concurrent_requests_get_exactly_their_answers_alone(
    tmp_path, demo_index: CapabilityIndex
) -> None:
    asyncio.run(_concurrent_requests(tmp_path, demo_index))


async def _concurrent_requests(tmp_path, demo_index: CapabilityIndex) -> None:
    ws = "batching-ws"
    demo_index.connect(ws, ["github", "gmail", "googlecalendar", "slack"])
    alone = []
    for query in REQUESTS:
        demo_index.embedder.clear_cache()  # type: ignore[attr-defined]
        alone.append(_answer(demo_index.retrieve(query, workspace_id=ws, k=5)))
    demo_index.embedder.clear_cache()  # type: ignore[attr-defined]
    batcher = demo_index.query_batcher
    before = batcher.batches
    app = create_app(make_settings(tmp_path), index=demo_index)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://lucy") as client,
    ):
        responses = await asyncio.gather(
            *(
                client.post("/v1/retrieve", json={"query": q, "workspace_id": ws, "k": 5})
                for q in REQUESTS
            )
        )
    assert [r.status_code for r in responses] == [200] * len(REQUESTS)
    together = [{k: v for k, v in r.json().items() if k != "timings"} for r in responses]
    assert together == alone
    assert batcher.batches - before < len(REQUESTS)  # some requests shared a model call
