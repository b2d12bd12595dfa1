"""Splitting a request with several intents into parts, one action each (pure)."""

from __future__ import annotations

import re

from lucy.capability_index.tags import canonical_verb
from lucy.capability_index.text import words

_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])")
_CLAUSES = re.compile(
    r"\s*(?:;|,\s*(?:and\s+)?then\b|\band\s+then\b|\bthen\b|\band\s+also\b|\balso\b"
    r"|,\s*and\b|\band\b|,)\s*",
    re.IGNORECASE,
)
# words that carry no request of their own: "Could you please help me with these tasks?"
_FILLER_WORDS = """
    i me my we us our you your it its this that these those the a an to of for with and or but
    so is are was were be been am do does did can could would will shall should may might please
    help need needs want wants like thanks thank kindly also then first second third finally
    lastly next additionally furthermore moreover besides after afterwards what some any
    information info task tasks following question questions hi hello hey just
"""
_FILLER = frozenset(_FILLER_WORDS.split())
_MIN_CONTENT_WORDS = 2


def split_intents(request: str, max_parts: int = 4) -> list[str]:
    """``"file a bug in Linear and ping #eng"`` → ``["file a bug in Linear", "ping #eng"]``.

    Sentences are parts ("First, translate ... Then, analyse ..."); inside a sentence, clauses
    joined by "and", "then", ";" are parts when each starts with an action verb ("bugs and
    crashes" stays whole). A sentence of filler only ("Thank you.") is dropped; one with too
    little content is glued to its neighbour. Returns ``[request]`` for a single intent; at
    most ``max_parts`` parts (the tail is joined into the last).
    """
    text = " ".join(request.split())
    parts: list[str] = []
    for sentence in _SENTENCES.split(text):
        content = _content_words(sentence)
        if not content:
            continue
        clauses = _clauses(sentence)
        if parts and len(content) < _MIN_CONTENT_WORDS:
            parts[-1] = f"{parts[-1]} {sentence}"
        else:
            parts.extend(clauses)
    if len(parts) < 2:
        return [text]
    if len(parts) > max_parts:
        parts = [*parts[: max_parts - 1], " ".join(parts[max_parts - 1 :])]
    return parts


def _clauses(sentence: str) -> list[str]:
    pieces = [p for p in _CLAUSES.split(sentence) if p]
    clauses: list[str] = []
    for piece in pieces:
        if clauses and not _has_verb(piece):
            clauses[-1] = f"{clauses[-1]} {piece}"
        else:
            clauses.append(piece)
    if sum(map(_has_verb, clauses)) < 2:
        return [sentence]
    return clauses


def _has_verb(piece: str) -> bool:
    return any(canonical_verb(w) for w in words(piece)[:3])


def _content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in _FILLER and len(w) > 1]


def embedded_texts(request: str, parts: list[str]) -> list[str]:
    """What retrieving a request embeds: the whole request, and its parts when it was split."""
    return [request] if len(parts) == 1 else [request, *parts]


def model_inputs(texts: list[str], template: str) -> list[str]:
    """What the embedding model is given for a request's ``embedded_texts`` (the whole
    request first, then its parts): each text as written, whose vector ranks a part and
    measures every similarity, then, with a template, the whole request set in it, whose
    vector ranks the whole request. Templating the parts too made Seal-Tools' split requests
    slower (p50 82.7 → 103.1 ms) for no gain (docs/eval.md#the-query-template)."""
    if not template:
        return list(texts)
    return [*texts, template.replace("{request}", texts[0])]
