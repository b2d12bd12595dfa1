"""Splitting a request with several intents into parts, one action each (pure)."""

from __future__ import annotations

import re

from lucy.capability_index.tags import canonical_verb
from lucy.capability_index.text import words

_SEPARATORS = re.compile(
    r"\s*(?:;|,\s*(?:and\s+)?then\b|\band\s+then\b|\bthen\b|\band\s+also\b|\balso\b"
    r"|,\s*and\b|\band\b|,)\s*",
    re.IGNORECASE,
)


def split_intents(request: str, max_parts: int = 4) -> list[str]:
    """``"file a bug in Linear and ping #eng"`` → ``["file a bug in Linear", "ping #eng"]``.

    A piece without an action verb is glued back to the piece before it ("bugs and crashes"
    stays whole). Returns ``[request]`` unless at least two pieces carry a verb.
    """
    pieces = [p for p in _SEPARATORS.split(request.strip()) if p]
    parts: list[str] = []
    for piece in pieces:
        if parts and not _has_verb(piece):
            parts[-1] = f"{parts[-1]} {piece}"
        else:
            parts.append(piece)
    if sum(map(_has_verb, parts)) < 2:
        return [request.strip()]
    if len(parts) > max_parts:
        parts = [*parts[: max_parts - 1], " ".join(parts[max_parts - 1 :])]
    return parts


def _has_verb(piece: str) -> bool:
    return any(canonical_verb(w) for w in words(piece)[:3])
