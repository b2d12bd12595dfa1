"""The completeness gate's memory of one request: the listings seen, page by page.

``Chains`` groups results by ``chain_key`` (the tool and every non-page argument), so page 1
and page 2 of one listing are one chain; ``pending`` lists the next-page calls of chains whose
last page says more exist; ``qualify`` makes an unbacked claim honest."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from lucy.planner.completeness import (
    chain_key,
    item_label,
    more_available,
    next_page_arguments,
    result_items,
)

_MAX_APPENDED = 15


@dataclass
class _Chain:
    slug: str
    labels: list[str] = field(default_factory=list)
    more: str | None = None  # why the last page says more exist
    next_arguments: dict[str, Any] | None = None
    fetched: set[str] = field(default_factory=set)


class Chains:
    def __init__(self) -> None:
        self._chains: dict[Any, _Chain] = {}

    def add(
        self,
        slug: str,
        arguments: Mapping[str, Any],
        data: Any,
        truncated: bool,
        parameters: Collection[str],
    ) -> None:
        key = chain_key(slug, arguments)
        chain = self._chains.setdefault(key, _Chain(slug))
        page_id = repr(sorted(arguments.items(), key=lambda kv: kv[0]))
        if page_id in chain.fetched:
            return
        chain.fetched.add(page_id)
        for item in result_items(data):
            label = item_label(item)
            if label and label not in chain.labels:
                chain.labels.append(label)
        chain.more = more_available(data, arguments, truncated=truncated, parameters=parameters)
        nxt = next_page_arguments(data, arguments, parameters) if chain.more else None
        if nxt is not None and repr(sorted(nxt.items(), key=lambda kv: kv[0])) in chain.fetched:
            nxt = None
        chain.next_arguments = nxt

    def pending(self) -> list[tuple[str, dict[str, Any]]]:
        """(slug, arguments) of the next page of every chain that has one to fetch."""
        return [
            (c.slug, c.next_arguments)
            for c in self._chains.values()
            if c.more and c.next_arguments is not None
        ]

    def unfinished(self) -> list[tuple[str, str]]:
        """(slug, reason) of every chain whose last page says more exist."""
        return [(c.slug, c.more) for c in self._chains.values() if c.more]

    def labels(self) -> list[str]:
        return [label for c in self._chains.values() for label in c.labels]


def qualify(text: str, chains: Chains) -> str:
    """``text`` (which claims completeness), with what the results do not back added: items
    the tools returned that the text leaves out, and one plain "may be partial" sentence when
    too many are left out to list or a listing has more pages."""
    lowered = text.lower()
    unlisted = [label for label in chains.labels() if label.lower() not in lowered]
    notes = []
    if unlisted and len(unlisted) <= _MAX_APPENDED:
        listed = "\n".join(f"- {label}" for label in unlisted)
        notes.append(f"The tools also returned these, which are not listed above:\n{listed}")
    reasons = []
    if len(unlisted) > _MAX_APPENDED:
        reasons.append(f"the tools returned {len(unlisted)} more items than are listed above")
    unfinished = chains.unfinished()
    if unfinished:
        why = "; ".join(f"{slug}: {reason}" for slug, reason in unfinished)
        reasons.append(f"there are more results I did not fetch ({why})")
    if reasons:
        notes.append("This may be partial: " + ", and ".join(reasons) + ".")
    if not notes:
        return text
    return text + "\n\n" + "\n\n".join(notes)
