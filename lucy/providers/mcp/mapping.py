"""MCP tools and servers as Lucy sees them: ``Tool`` → ``ToolSpec``, server → ``ToolkitInfo``.

Pure functions, no I/O. The slug is ``<TOOLKIT>_<TOOL NAME>`` upper-cased with every run of
characters outside ``A-Z0-9`` made one ``_`` (``get-current time`` in toolkit ``time`` →
``TIME_GET_CURRENT_TIME``); the MCP name itself is kept as ``remote_name``. The flags come
from the tool's annotations and are True only when the hint says so: an MCP server that gives
no hint is treated as neither read-only nor destructive.
"""

from __future__ import annotations

import re
from typing import Any

import mcp_types as types

from lucy.models import ToolkitInfo, ToolSpec

PROVIDER = "mcp"
TOOLKIT_DESCRIPTION_CHARS = 200

_NOT_SLUG = re.compile(r"[^A-Z0-9]+")
_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[^A-Za-z0-9]+")


def tool_slug(toolkit: str, tool_name: str) -> str:
    """The slug of MCP tool ``tool_name`` in ``toolkit`` (matches ``^[A-Z][A-Z0-9_]*$``)."""
    # the toolkit id starts with a letter, so the slug does too
    return _NOT_SLUG.sub("_", f"{toolkit}_{tool_name}".upper()).strip("_")


def humanise(name: str) -> str:
    """``get_current_time``, ``get-sum``, ``getSum`` → ``Get current time``, ``Get sum``."""
    words = [w for w in _WORD_BREAK.split(name) if w]
    if not words:
        return name
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[0].upper() + text[1:]


def display_name(tool: types.Tool) -> str:
    """The spec's display-name precedence: ``title``, ``annotations.title``, then the name."""
    title = tool.title or (tool.annotations.title if tool.annotations else None)
    return title.strip() if title and title.strip() else humanise(tool.name)


def parameters_of(tool: types.Tool) -> dict[str, Any]:
    """The tool's input schema (a copy), with ``type: object`` at the root as MCP requires."""
    schema = dict(tool.input_schema)
    schema.setdefault("type", "object")
    return schema


def runnable(tool: types.Tool) -> bool:
    """Whether a plain ``tools/call`` can run it: a tool that requires task-augmented
    execution (``execution.taskSupport == "required"``) cannot, so it is not offered."""
    return not (tool.execution and tool.execution.task_support == "required")


def tool_spec(tool: types.Tool, *, toolkit: str, version: str, slug: str | None = None) -> ToolSpec:
    """``tool`` as a ``ToolSpec`` of ``toolkit``; ``version`` is the server's version."""
    hints = tool.annotations or types.ToolAnnotations()
    return ToolSpec(
        slug=slug or tool_slug(toolkit, tool.name),
        toolkit=toolkit,
        provider=PROVIDER,
        name=display_name(tool),
        description=(tool.description or "").strip() or display_name(tool),
        parameters=parameters_of(tool),
        read_only=hints.read_only_hint is True,
        destructive=hints.destructive_hint is True,
        version=version,
        remote_name=tool.name,
    )


def server_version(server_info: types.Implementation | None) -> str:
    """The version a server reports in ``initialize``, else ``"1"``."""
    return (server_info.version if server_info else "").strip() or "1"


def toolkit_info(
    toolkit: str,
    *,
    key: str,
    configured_name: str | None,
    server_info: types.Implementation | None,
    instructions: str | None,
) -> ToolkitInfo:
    """One server as a toolkit. Name: the configured one, else the server's title or name,
    else the key. Description: the server's own description, else the first line of its
    instructions, cut to ``TOOLKIT_DESCRIPTION_CHARS``."""
    own_name = (server_info.title or server_info.name) if server_info else None
    name = configured_name or own_name or key
    description = (server_info.description if server_info else None) or _first_line(instructions)
    return ToolkitInfo(toolkit=toolkit, name=name, description=_cut(description))


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        # instructions are often Markdown: a heading is the best one-line summary
        stripped = line.strip().lstrip("#").strip()
        if stripped:
            return stripped
    return ""


def _cut(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= TOOLKIT_DESCRIPTION_CHARS:
        return text
    return text[: TOOLKIT_DESCRIPTION_CHARS - 1].rstrip() + "…"
