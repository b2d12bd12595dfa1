import pytest
from hypothesis import given
from hypothesis import strategies as st

from lucy.capability_index.ranking import (
    Scored,
    fuse_rrf,
    merge_parts,
    missing_toolkits,
    rescore,
    usage_priors,
    verb_coverage,
)
from lucy.capability_index.store import Hit
from lucy.capability_index.tags import RequestIntent
from lucy.settings import RetrievalWeights

W = RetrievalWeights()


def payload(slug: str, toolkit: str = "tk", verbs: tuple[str, ...] = (), objects=()) -> dict:
    return {"slug": slug, "toolkit": toolkit, "tags": {"verbs": verbs, "objects": objects}}


PAYLOADS: dict[str, dict] = {}


def hit(slug: str, score: float = 0.5, **kw) -> Hit:
    PAYLOADS[slug] = payload(slug, **kw)
    return Hit(slug, score)


def fuse(dense, sparse, weights=None):
    return fuse_rrf(dense, sparse, weights or W, PAYLOADS)


def scored(slug: str, score: float, toolkit: str, similarity: float = 0.5) -> Scored:
    return Scored(slug, payload(slug, toolkit), score, score, similarity)


def test_rrf_first_in_both_scores_one() -> None:
    fused = fuse([hit("a"), hit("b")], [hit("a"), hit("c")], W)
    assert fused[0].id == "a"
    assert fused[0].score == pytest.approx(1.0)
    assert {s.id for s in fused} == {"a", "b", "c"}
    assert fused[0].similarity == 0.5
    assert next(s for s in fused if s.id == "c").similarity == 0.0


def test_rrf_weights_decide_between_rankings() -> None:
    dense_only = fuse([hit("d")], [hit("s")], W.model_copy(update={"sparse_weight": 0.0}))
    assert next(s.id for s in dense_only) == "d"
    sparse_heavy = fuse([hit("d")], [hit("s")], W.model_copy(update={"sparse_weight": 2.0}))
    assert sparse_heavy[0].id == "s"


def test_rescore_signals() -> None:
    items = fuse(
        [
            hit("GH_DELETE", toolkit="github", verbs=("delete",), objects=("issue",)),
            hit("GH_CREATE", toolkit="github", verbs=("create",), objects=("issue",)),
            hit("LIN_CREATE", toolkit="linear", verbs=("create",), objects=("issue",)),
        ],
        [],
        W,
    )
    intent = RequestIntent("create", frozenset({"issue"}), frozenset({"linear"}))
    ranked = rescore(items, intent, W.model_copy(update={"verb_mismatch_penalty": 0.2}), {})
    assert [s.id for s in ranked] == ["LIN_CREATE", "GH_CREATE", "GH_DELETE"]
    by_id = {s.id: s for s in ranked}
    assert by_id["GH_DELETE"].score < by_id["GH_DELETE"].fused  # verb conflict is a penalty


def test_verb_signals_scale_with_the_share_of_candidates_that_have_a_verb() -> None:
    search = RequestIntent("search", frozenset(), frozenset())
    tagged = Scored("FIND", payload("FIND", verbs=("search",)), 0.5, 0.5, 0.5)
    untagged = [Scored(f"T{i}", payload(f"T{i}"), 0.5, 0.5, 0.5) for i in range(3)]
    # one of four candidates has a verb: its match counts a quarter
    sparse_pool = {s.id: s for s in rescore([tagged, *untagged], search, W, {})}
    assert sparse_pool["FIND"].score == pytest.approx(0.5 + W.verb_match_boost / 4)
    assert sparse_pool["T0"].score == pytest.approx(0.5)
    # every candidate has a verb: full boost for the match, full penalty for a conflict
    listing = Scored("LIST", payload("LIST", verbs=("delete",)), 0.5, 0.5, 0.5)
    full_pool = {s.id: s for s in rescore([tagged, listing], search, W, {})}
    assert full_pool["FIND"].score == pytest.approx(0.5 + W.verb_match_boost)
    assert full_pool["LIST"].score == pytest.approx(0.5 - W.verb_mismatch_penalty)
    assert verb_coverage([]) == 0.0


def test_usage_prior_breaks_ties() -> None:
    items = fuse([hit("a")], [], W) + fuse([hit("b")], [], W)
    ranked = rescore(items, RequestIntent(None, frozenset(), frozenset()), W, {"b": 1.0})
    assert ranked[0].id == "b"


def test_usage_priors_log_scale() -> None:
    priors = usage_priors({"a": 100, "b": 0, "c": 9})
    assert priors["a"] == 1.0
    assert priors["b"] == 0.0
    assert 0 < priors["c"] < 1
    assert usage_priors({}) == {}


def test_missing_toolkits_named_or_outranking() -> None:
    intent = RequestIntent("create", frozenset(), frozenset({"linear"}))
    unconnected = [
        scored("LIN", 0.9, "linear"),
        scored("JIRA", 1.2, "jira", similarity=0.6),
        scored("ZEN", 0.4, "zendesk", similarity=0.6),
        scored("LOW", 2.0, "asana", similarity=0.1),
    ]
    found = missing_toolkits(unconnected, best_connected=1.0, intent=intent, weights=W)
    assert [m.toolkit for m in found] == ["jira", "linear"]
    assert found[1].reason == "named in the request"
    assert missing_toolkits(unconnected, best_connected=5.0, intent=intent, weights=W)[
        0
    ].toolkit == ("linear")


@given(
    st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=6),
    st.lists(
        st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=6), min_size=2, max_size=4
    ),
    st.integers(min_value=1, max_value=10),
)
def test_merge_parts_gives_each_intent_its_best(
    whole: list[str], parts: list[list[str]], k: int
) -> None:
    def ranking(ids: list[str]) -> list[Scored]:
        return [scored(x, 1.0 - i / 10, "tk") for i, x in enumerate(ids)]

    picked = merge_parts(ranking(whole), [ranking(p) for p in parts], k, leader_margin=10.0)
    ids = [item.id for _, item in picked]
    assert len(ids) == len(set(ids))
    assert len(ids) == min(k, len(set(whole) | {x for p in parts for x in p}))
    if k > len(parts):
        for p in parts:
            if p:
                assert p[0] in ids  # every intent's best tool is on the shortlist
        if whole:
            assert ids[0] == whole[0]


def test_weak_part_leader_does_not_open_the_shortlist() -> None:
    def item(x: str, score: float, similarity: float) -> Scored:
        return Scored(x, {"toolkit": "tk", "slug": x}, score, score, similarity)

    whole = [item("a", 1.0, 0.6), item("b", 0.9, 0.5)]
    strong_part = [item("c", 0.8, 0.7)]
    weak_part = [item("d", 0.95, 0.3)]
    picked = merge_parts(whole, [strong_part, weak_part], 3, part_penalty=0.2)
    # c opens (similarity 0.7 >= 0.6); d does not (0.3 < 0.6) and ranks 0.2 lower: 0.75 < 0.9
    assert [x.id for _, x in picked] == ["a", "c", "b"]
    picked = merge_parts(whole, [strong_part, weak_part], 3, leader_margin=0.5)
    assert [x.id for _, x in picked] == ["a", "c", "d"]


def test_a_commanding_part_opens_the_shortlist_even_when_weak() -> None:
    def item(x: str, score: float, similarity: float) -> Scored:
        return Scored(x, {"toolkit": "tk", "slug": x}, score, score, similarity)

    whole = [item("a", 2.0, 0.6), item("b", 1.9, 0.55), item("c", 1.8, 0.5)]
    part = [item("d", 1.0, 0.5)]
    assert [x.id for _, x in merge_parts(whole, [part], 2, part_penalty=0.3)] == ["a", "b"]
    picked = merge_parts(whole, [part], 2, part_penalty=0.3, commands=[True])
    assert [x.id for _, x in picked] == ["a", "d"]
