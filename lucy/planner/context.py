"""Keeping the prompt inside its token budget.

Tokens are estimated at four characters each (the model's tokenizer is not known for an arbitrary
OpenAI-compatible endpoint, and tokenizer libraries fetch their vocabularies at run time). A tool
result longer than ``max_result_chars`` is cut with a visible marker; when the whole prompt
is still over budget, the oldest tool results are replaced by a short note first, then the
oldest thread turns (never the system prompt or the latest user message)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

CHARS_PER_TOKEN = 4
TRUNCATION_MARKER = "[truncated by Lucy: showing {shown} of {total} characters]"
ITEMS_MARKER = (
    "truncated by Lucy: showing the first {shown} of {total} {key}; ask for fewer or narrower "
    "results to see the rest"
)
COMPACTED_MARKER = (
    "[compacted by Lucy to fit the context: an earlier result of {name}, {chars} characters]"
)

Message = dict[str, Any]
_PRIVATE_KEYS = frozenset({"compacted", "tool_name"})


def estimate_tokens(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return len(text) // CHARS_PER_TOKEN + 1


def render_result(data: Any, max_chars: int) -> tuple[str, bool]:
    """A tool result as the text the model reads, and whether it was truncated. A long list
    result keeps whole items (valid JSON) and says how many it shows; anything else is cut at
    ``max_chars`` with a marker."""
    text = _dump(data)
    if len(text) <= max_chars:
        return text, False
    shortened = _drop_items(data, max_chars)
    if shortened is not None:
        return shortened, True
    marker = TRUNCATION_MARKER.format(shown=max_chars, total=len(text))
    return f"{text[:max_chars]}\n{marker}", True


def _dump(data: Any) -> str:
    return data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, default=str)


def _drop_items(data: Any, max_chars: int) -> str | None:
    """The result with its longest list cut to the items that fit, marked; None if no list
    or not even one item fits."""
    if not isinstance(data, dict):
        return None
    key = max(
        (k for k, v in data.items() if isinstance(v, list) and v),
        key=lambda k: len(data[k]),
        default=None,
    )
    if key is None:
        return None
    items = data[key]
    for keep in range(len(items) - 1, 0, -1):
        note = ITEMS_MARKER.format(shown=keep, total=len(items), key=key)
        text = _dump({**data, key: items[:keep], "_lucy_truncated": note})
        if len(text) <= max_chars:
            return text
    return None


def prompt_tokens(messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> int:
    return sum(estimate_tokens(m) for m in messages) + sum(estimate_tokens(t) for t in tools)


def fit_prompt(messages: list[Message], tools: Sequence[dict[str, Any]], budget_tokens: int) -> int:
    """Shrink ``messages`` in place until the estimate fits; returns how many were shrunk."""
    shrunk = 0
    total = prompt_tokens(messages, tools)
    for i, message in enumerate(messages):
        if total <= budget_tokens:
            return shrunk
        if message.get("role") != "tool" or message.get("compacted"):
            continue
        before = estimate_tokens(message)
        content = str(message.get("content", ""))
        note = COMPACTED_MARKER.format(name=message.get("tool_name", "a tool"), chars=len(content))
        messages[i] = {**message, "content": note, "compacted": True}
        total += estimate_tokens(messages[i]) - before
        shrunk += 1
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    i = 1 if messages and messages[0].get("role") == "system" else 0
    while total > budget_tokens and i < last_user:
        message = messages[i]
        if message.get("role") in ("user", "assistant") and not message.get("tool_calls"):
            total -= estimate_tokens(message)
            del messages[i]
            last_user -= 1
            shrunk += 1
        else:
            i += 1
    return shrunk


def wire_messages(messages: Sequence[Message]) -> list[Message]:
    """Messages as the API takes them (our bookkeeping keys removed)."""
    return [{k: v for k, v in m.items() if k not in _PRIVATE_KEYS} for m in messages]
