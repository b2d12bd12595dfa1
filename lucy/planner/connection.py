"""The connection-required decision: when only unconnected toolkits fit a request, Lucy
answers herself (no LLM call), naming the toolkits and how to connect them."""

from __future__ import annotations

from lucy.models import Candidate, MissingConnection, RetrievalResult


def needs_connection(result: RetrievalResult, min_similarity: float) -> list[MissingConnection]:
    """The unconnected toolkits to name when no connected candidate fits the request.

    A connected candidate fits when its dense similarity reaches ``min_similarity`` and it was
    not retrieved for a request (or part of one) that names a missing toolkit: "open a bug in
    Linear" is not served by Jira; in "file a bug in Linear and ping #eng" the Slack part is."""
    missing = result.missing_connections
    if not missing:
        return []
    named = [m for m in missing if m.reason == "named in the request"]

    def fits(c: Candidate) -> bool:
        if c.similarity < min_similarity:
            return False
        if not named:
            return True
        if c.matched_intent is None:
            return False
        part = c.matched_intent.lower()
        return not any(m.name.lower() in part or m.toolkit in part for m in named)

    if any(fits(c) for c in result.candidates):
        return []
    return named or list(missing)
