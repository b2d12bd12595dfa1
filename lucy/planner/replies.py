"""Replies Lucy writes herself, with no LLM: a connection is required, or the model gave no
text (a summary of what the tools returned and what failed); and Markdown → Slack mrkdwn."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from lucy.models import MissingConnection, ToolResult
from lucy.planner.completeness import item_label, result_items

_MAX_ITEMS = 15


def connection_required(
    missing: Sequence[MissingConnection], workspace_id: str, links: Mapping[str, str | None]
) -> str:
    """Which toolkits to connect and how, naming each one; ``links`` holds each toolkit's
    connect link where there is one."""
    lines = []
    for m in missing:
        link = links.get(m.toolkit)
        if link:
            how = link
        else:
            how = (
                f"`POST /v1/workspaces/{workspace_id}/connections` with "
                f'`{{"toolkits": ["{m.toolkit}"]}}`, or `lucy connections connect '
                f"{workspace_id} {m.toolkit}`"
            )
        lines.append(f"- **{m.name}** (`{m.toolkit}`): connect it with {how}")
    names = " or ".join(m.name for m in missing)
    head = f"I can't do that yet: it needs {names}, which this workspace has not connected."
    return "\n".join([head, "", *lines, "", "Once it is connected, ask me again."])


def outcome_unknown(results: Sequence[ToolResult]) -> str:
    """The sentence for writes that may or may not have happened: never success, never failure."""
    slugs = ", ".join(f"`{r.slug}`" for r in results)
    return (
        f"I could not confirm whether {slugs} took effect: the service did not answer in time "
        "after the request may have reached it. Please check there before asking me to try again."
    )


def summarize_results(results: Sequence[ToolResult], reason: str) -> str:
    """A plain account of what the tools returned and what failed, for when the model did
    not answer in words. ``reason`` says why Lucy is writing this herself."""
    if not results:
        return (
            f"I couldn't finish this request ({reason}), and no tool returned anything yet. "
            "Please try again, or rephrase what you need."
        )
    parts = [f"I couldn't write a full answer ({reason}). Here is what I found:"]
    for r in results:
        if r.error is not None:
            parts.append(f"- `{r.slug}` failed: {r.error.kind.user_message} ({r.error.message})")
            continue
        items = result_items(r.data)
        labels = [label for label in map(item_label, items) if label]
        if labels:
            shown = labels[:_MAX_ITEMS]
            more = f" (and {len(labels) - len(shown)} more)" if len(labels) > len(shown) else ""
            parts.append(f"- `{r.slug}` returned {len(items)} items{more}:")
            parts += [f"  - {label}" for label in shown]
        else:
            text = json.dumps(r.data, ensure_ascii=False, default=str)
            parts.append(f"- `{r.slug}` returned: {text[:300]}{'…' if len(text) > 300 else ''}")
    return "\n".join(parts)


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)
_BULLET = re.compile(r"^(\s*)[-*]\s+", re.MULTILINE)


def to_slack(markdown: str) -> str:
    """Markdown as Slack mrkdwn: bold, links, headings and bullets; code is left as is;
    ``&``, ``<`` and ``>`` are escaped as Slack requires."""
    escaped = markdown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = []
    for i, chunk in enumerate(escaped.split("```")):
        if i % 2:  # inside a code fence
            out.append(chunk)
            continue
        chunk = _HEADING.sub(r"**\1**", chunk)
        chunk = _BOLD.sub(r"*\1*", chunk)
        chunk = _LINK.sub(r"<\2|\1>", chunk)
        chunk = _BULLET.sub(r"\1• ", chunk)
        out.append(chunk)
    return "```".join(out)
