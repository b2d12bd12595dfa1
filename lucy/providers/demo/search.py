"""Reading search strings: ``op:value`` qualifiers and free words, as Gmail, Slack and GitHub
search boxes take them. Matching is case-insensitive; every free word must appear."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_TERM = re.compile(r'(?:(?P<op>[A-Za-z_]+):)?(?:"(?P<quoted>[^"]*)"|(?P<word>\S+))')


@dataclass
class Query:
    words: list[str] = field(default_factory=list)
    qualifiers: list[tuple[str, str]] = field(default_factory=list)
    """``(op, value)`` pairs in order, ``op`` lower-cased."""

    def values(self, op: str) -> list[str]:
        return [v for o, v in self.qualifiers if o == op]


def parse_query(text: str | None, *, operators: Iterable[str]) -> Query:
    """Split ``text`` into free words and the qualifiers named in ``operators``; a qualifier
    the tool does not know stays a free word, as the real search boxes treat it."""
    known = {op.lower() for op in operators}
    query = Query()
    for match in _TERM.finditer(text or ""):
        op, value = match["op"], match["quoted"] if match["quoted"] is not None else match["word"]
        if op and op.lower() in known:
            query.qualifiers.append((op.lower(), value))
        elif op:
            query.words.append(f"{op}:{value}")
        elif value.strip():
            query.words.append(value.strip())  # a quoted phrase stays one phrase
    return query


def has_words(words: Iterable[str], *fields: str | None) -> bool:
    """Whether every word or phrase occurs (as a substring, ignoring case) in one of ``fields``."""
    haystack = " ".join(f for f in fields if f).lower()
    return all(word.lower() in haystack for word in words)
