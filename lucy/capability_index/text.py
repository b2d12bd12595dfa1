"""Word-level text helpers shared by tagging, documents and query analysis (pure)."""

from __future__ import annotations

import re

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"[a-z0-9]+")


def humanise(identifier: str) -> str:
    """``GITHUB_CREATE_ISSUE`` / ``pageToken`` / ``page_token`` → ``github create issue`` etc."""
    spaced = _CAMEL.sub(" ", identifier).replace("_", " ").replace("-", " ")
    return " ".join(spaced.lower().split())


def words(text: str) -> list[str]:
    """Lower-case word tokens, identifiers split into their parts."""
    return _WORD.findall(humanise(text))


def singular(word: str) -> str:
    """A cheap English singular, enough to compare object nouns (issues → issue)."""
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word
