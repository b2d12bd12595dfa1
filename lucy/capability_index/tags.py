"""Intent tags for tools and requests: verb, object and domain, derived then overridden (pure)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from lucy.capability_index.text import singular, words
from lucy.capability_index.vocabulary import (
    ACTION_NOUNS,
    ACTION_VERBS,
    CONTAINER_PREPOSITIONS,
    DETERMINERS,
    LEADING_WORDS,
    NON_OBJECTS,
    OBJECT_SYNONYMS,
    TIME_WORDS,
    VERB_SYNONYMS,
)
from lucy.capability_index.yaml_text import load_yaml
from lucy.errors import CatalogError
from lucy.models import IntentTags


@dataclass(frozen=True)
class IntentOverrides:
    """The curated part: per-toolkit domain and aliases, per-tool tag overrides."""

    toolkit_domains: Mapping[str, str] = field(default_factory=dict)
    toolkit_aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    channel_toolkits: frozenset[str] = frozenset()
    tools: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def load_overrides(path: Path | None = None) -> IntentOverrides:
    """Read the override file (the bundled one when ``path`` is None)."""
    if path is None:
        text = resources.files(__package__).joinpath("intent_overrides.yaml").read_text()
        source = "intent_overrides.yaml"
    else:
        text, source = path.read_text(), str(path)
    raw = load_yaml(text) or {}
    if not isinstance(raw, dict):
        raise CatalogError("expected a mapping at the top level", source=source)
    toolkits = raw.get("toolkits") or {}
    return IntentOverrides(
        toolkit_domains={tk: str(v["domain"]) for tk, v in toolkits.items() if "domain" in v},
        toolkit_aliases={
            tk: tuple(str(a).lower() for a in v.get("aliases", [])) for tk, v in toolkits.items()
        },
        channel_toolkits=frozenset(tk for tk, v in toolkits.items() if v.get("channel_refs")),
        tools=raw.get("tools") or {},
    )


@cache
def bundled_overrides() -> IntentOverrides:
    return load_overrides()


def canonical_verb(word: str) -> str | None:
    return VERB_SYNONYMS.get(word)


def _objects(tokens: Iterable[str]) -> tuple[str, ...]:
    nouns = [singular(t) for t in tokens if t not in NON_OBJECTS and not t.isdigit()]
    found = [OBJECT_SYNONYMS.get(n, n) for n in nouns]
    if 1 < len(nouns) <= 3:
        found.append("_".join(nouns))
    return tuple(dict.fromkeys(found))


def derive_tags(
    slug: str, toolkit: str, name: str, overrides: IntentOverrides | None = None
) -> IntentTags:
    """Tags from the slug (``LINEAR_CREATE_ISSUE`` → create / issue) and name, then overrides."""
    overrides = overrides or bundled_overrides()
    prefix = toolkit.upper() + "_"
    action = slug[len(prefix) :] if slug.startswith(prefix) else slug
    tokens = words(action)
    verbs: list[str] = []
    rest = tokens
    for i, token in enumerate(tokens):
        verb = canonical_verb(token)
        if verb is not None:
            verbs.append(verb)
            rest = tokens[i + 1 :]
            break
    name_words = words(name)
    if name_words and (name_verb := canonical_verb(name_words[0])) and name_verb not in verbs:
        verbs.append(name_verb)
    for noun in (singular(t) for t in rest):
        implied = ACTION_NOUNS.get(noun)
        if implied is not None and implied not in verbs:
            verbs.append(implied)
    curated = overrides.tools.get(slug, {})
    return IntentTags(
        verbs=tuple(curated.get("verbs", verbs)),
        objects=tuple(curated.get("objects", _objects(rest))),
        domain=str(curated.get("domain", overrides.toolkit_domains.get(toolkit, "general"))),
    )


@dataclass(frozen=True)
class RequestIntent:
    """What a request (or one part of it) asks for, in tag vocabulary."""

    verb: str | None
    objects: frozenset[str]
    toolkits: frozenset[str]
    asks_action: bool = False  # see ``asks_for_action``


def analyse_request(text: str, overrides: IntentOverrides | None = None) -> RequestIntent:
    """The opening action verb, the object nouns, the toolkits a request names, and whether
    it asks for an action at all."""
    overrides = overrides or bundled_overrides()
    tokens = words(text)
    verb = request_verb(tokens)
    objects = request_objects(tokens)
    return RequestIntent(
        verb=verb,
        objects=frozenset(objects),
        toolkits=mentioned_toolkits(text, overrides),
        asks_action=verb is not None or asks_for_action(tokens),
    )


def request_verb(tokens: list[str]) -> str | None:
    """The action a request opens with, after politeness ("could you please find" → search);
    None when it does not open with a known action ("I'm looking for new ideas")."""
    first = next((t for t in tokens if t not in LEADING_WORDS), None)
    return None if first is None else canonical_verb(first)


def asks_for_action(tokens: list[str]) -> bool:
    """Whether a request (or part) is an instruction: it opens with an action verb, or one
    follows "to" or "please" ("I would like to borrow a book", "then please provide ...")."""
    if request_verb(tokens) is not None:
        return True
    return any(
        before in ("to", "please") and (canonical_verb(word) or word in ACTION_VERBS)
        for before, word in itertools.pairwise(tokens)
    )


def request_objects(tokens: list[str]) -> set[str]:
    """Object nouns of a request, canonical, with joined pairs ("on call" → "oncall"); the
    noun after "in"/"on" is where the action happens, not what it acts on, and is left out."""
    nouns = [singular(t) for t in tokens]
    containers: set[int] = set()
    for i, token in enumerate(tokens):
        if token in CONTAINER_PREPOSITIONS:
            j = i + 1
            while j < len(tokens) and tokens[j] in DETERMINERS:
                j += 1
            containers.add(j)
    kept = [n for i, n in enumerate(nouns) if i not in containers and n not in NON_OBJECTS]
    objects = {OBJECT_SYNONYMS.get(n, n) for n in kept}
    for a, b in itertools.pairwise(nouns):
        objects.update({a + b, f"{a}_{b}"})
    if objects & TIME_WORDS:
        objects.add("event")
    return objects


def mentioned_toolkits(text: str, overrides: IntentOverrides) -> frozenset[str]:
    """Toolkits whose name or alias appears as whole words, or that own a ``#channel``."""
    lowered = text.lower()
    found = {
        toolkit
        for toolkit, aliases in overrides.toolkit_aliases.items()
        if aliases and _alias_pattern(aliases).search(lowered)
    }
    if _CHANNEL_REF.search(lowered):
        found |= overrides.channel_toolkits
    return frozenset(found)


# "#eng", "#release-2024": a channel reference, which in a Slack assistant names Slack
_CHANNEL_REF = re.compile(r"(?<![\w&#])#[a-z][\w-]*")


@cache
def _alias_pattern(aliases: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(a) for a in sorted(aliases, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
