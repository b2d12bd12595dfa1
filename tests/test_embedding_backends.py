"""The embedding runtimes: torch and its ONNX export give the same vectors, the int8 variant
nearly so; exports are made once, offline, into the cache; an index searched by another
runtime than the one that built it is refused, and `lucy serve` would rebuild it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from lucy.api import create_app
from lucy.capability_index.catalog import Catalog
from lucy.capability_index.embedder import (
    BUNDLED_MODEL_ID,
    SentenceTransformerEmbedder,
    bundled_model_path,
)
from lucy.capability_index.onnx_export import FP32_FILE, export_dir, int8_config, int8_file
from lucy.capability_index.service import CapabilityIndex
from lucy.errors import EmbedderMismatchError
from tests.conftest import make_settings

TEXTS = [
    "what time is it in Tokyo right now?",
    "create an issue in GitHub for the login crash and tell the team in #eng",
    "Gmail: Send email. Send an email to one or more recipients. to Recipient address.",
]


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(threads=2, backend="torch")


def _cosines(a: list[list[float]], b: list[list[float]]) -> np.ndarray:
    return np.sum(np.asarray(a) * np.asarray(b), axis=1)


def test_onnx_gives_the_torch_vectors(torch_embedder) -> None:
    embedder = SentenceTransformerEmbedder(
        threads=2, backend="onnx", export_cache=Path(os.environ["LUCY_MODEL_CACHE_DIR"])
    )
    onnx = embedder.encode_documents(TEXTS)
    ref = torch_embedder.encode_documents(TEXTS)
    assert np.abs(np.asarray(onnx) - np.asarray(ref)).max() < 1e-5
    # one model: either may search what the other built, and indexes built before keep their id
    assert torch_embedder.model_id == embedder.model_id == BUNDLED_MODEL_ID


def test_exports_are_made_once_into_the_cache(tmp_path: Path, torch_embedder) -> None:
    cache = tmp_path / "models"
    int8 = SentenceTransformerEmbedder(threads=2, backend="onnx-int8", export_cache=cache)
    [folder] = [p for p in cache.iterdir() if p.is_dir()]  # one export per source model
    assert folder == export_dir(bundled_model_path(), cache)
    files = sorted(p.name for p in cache.glob("*/onnx/*.onnx"))
    assert files == sorted([Path(FP32_FILE).name, Path(int8_file(int8_config())).name])
    assert not list(cache.glob(".export-*")) and not list(cache.glob(".quantise-*"))
    changed = tmp_path / "model"  # other weights at the same path: another export folder
    shutil.copytree(bundled_model_path(), changed)
    before = export_dir(str(changed), cache)
    (changed / "config.json").write_text((changed / "config.json").read_text() + "\n")
    assert export_dir(str(changed), cache) != before
    stamp = {p: p.stat().st_mtime_ns for p in cache.glob("*/onnx/*.onnx")}
    again = SentenceTransformerEmbedder(threads=2, backend="onnx-int8", export_cache=cache)
    assert {p: p.stat().st_mtime_ns for p in cache.glob("*/onnx/*.onnx")} == stamp
    assert again.model_id == int8.model_id == f"{BUNDLED_MODEL_ID}+onnx-int8-{int8_config()}"
    # quantised: close to the model's vectors, not equal to them
    cos = _cosines(int8.encode_documents(TEXTS), torch_embedder.encode_documents(TEXTS))
    assert cos.min() > 0.97
    assert cos.min() < 1 - 1e-6


def test_an_index_built_by_another_model_is_refused(
    tmp_path: Path, small_catalog: Catalog, embedder
) -> None:
    settings = make_settings(tmp_path)
    int8 = SentenceTransformerEmbedder(
        threads=2, backend="onnx-int8", export_cache=Path(os.environ["LUCY_MODEL_CACHE_DIR"])
    )
    built = CapabilityIndex(settings, catalog=small_catalog, embedder=int8)
    built.build()
    built.close()
    index = CapabilityIndex(settings, catalog=small_catalog, embedder=embedder)
    try:
        assert not index.ready()
        status = index.status()
        assert status["index_runtimes"] == ["onnx-int8"] and status["embedding_backend"] == "onnx"
        with pytest.raises(EmbedderMismatchError, match=r"\+onnx-int8.*lucy index build"):
            index.retrieve("create a github issue", workspace_id="demo")
        with TestClient(create_app(settings, index=index)) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert f"{BUNDLED_MODEL_ID}+onnx-int8" in ready.json()["reason"]
            body = {"query": "create a github issue", "workspace_id": "demo"}
            refused = client.post("/v1/retrieve", json=body)
            assert refused.status_code == 503
        report = index.build()  # what `lucy serve` does: a rebuild re-embeds every tool
        assert report.reused == 0 and report.embedded == report.tools
        assert index.ready()
        assert index.retrieve("create a github issue", workspace_id="demo").candidates
    finally:
        index.close()
