"""The bundled model, loaded offline: shape, normalisation, the query cache, batching."""

from __future__ import annotations

import math

import pytest

from lucy.capability_index.embedder import length_groups


def test_query_vectors(embedder) -> None:
    vector = embedder.encode_query("open a bug in linear")
    assert len(vector) == embedder.dimension == 384
    assert math.sqrt(sum(v * v for v in vector)) == pytest.approx(1.0, abs=1e-4)
    assert embedder.model_id == "bundled:all-MiniLM-L6-v2"  # torch's id: the same vectors


def test_batch_equals_one_by_one_and_is_cached(embedder) -> None:
    embedder.clear_cache()
    texts = ["send an email to bob", "what's on my calendar", "send an email to bob"]
    batch = embedder.encode_queries(texts)
    assert batch[0] == batch[2]
    embedder.clear_cache()
    for text, vector in zip(texts, batch, strict=True):
        assert embedder.encode_query(text) == pytest.approx(vector, abs=1e-5)
    assert embedder.encode_query(texts[0]) is embedder.encode_query(texts[0])  # cached object


def test_documents_match_queries(embedder) -> None:
    [doc] = embedder.encode_documents(["send an email to bob"])
    assert doc == pytest.approx(embedder.encode_query("send an email to bob"), abs=1e-5)


def test_texts_of_unlike_length_go_to_the_model_apart() -> None:
    texts = ["a" * 100, "b" * 10, "c" * 140, "d" * 12, "e" * 40]
    groups = length_groups(texts)
    assert groups == [[1, 3], [4], [0, 2]]  # shortest first; 140 <= 1.5 * 100 + 16
    assert sorted(i for g in groups for i in g) == list(range(len(texts)))


def test_grouping_does_not_change_a_vector(embedder) -> None:
    texts = [
        "close the jira ticket",
        "create an issue in GitHub for the login crash, then tell the team in #eng that it is "
        "filed and who owns it",
        "tell the team",
    ]
    embedder.clear_cache()
    together = embedder.encode_queries(texts)
    for text, vector in zip(texts, together, strict=True):
        embedder.clear_cache()
        assert embedder.encode_queries([text])[0] == pytest.approx(vector, abs=1e-6)
