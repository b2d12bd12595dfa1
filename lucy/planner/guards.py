"""The guards every tool call passes before anything runs, each a small named unit:

- ``check_call``: unknown tool, unparseable arguments, schema violations, missing connection
  become a ``ToolError`` for the model; nothing is executed;
- ``RepeatGuard``: the same tool with the same canonical arguments a second time reuses the
  first result (and says so); a third time breaks the loop.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from jsonschema import Draft202012Validator

from lucy.models import Candidate, ToolError, ToolErrorKind, ToolResult

_MAX_LISTED_NAMES = 20
_MAX_SCHEMA_PROBLEMS = 5


def check_call(
    name: str,
    raw_arguments: str,
    offered: Mapping[str, Candidate],
    connected: Collection[str] | None,
) -> dict[str, Any] | ToolError:
    """The parsed arguments of an offered, connected tool, or the error to send the model.

    ``connected`` is None when every toolkit is allowed."""
    tool = offered.get(name)
    if tool is None:
        names = sorted(offered)
        return ToolError(
            kind=ToolErrorKind.UNKNOWN_TOOL,
            message=f"there is no tool named {name!r} here; call one of the offered tools",
            details={"valid_tools": names[:_MAX_LISTED_NAMES]},
        )
    if connected is not None and tool.toolkit not in connected:
        return ToolError(
            kind=ToolErrorKind.CONNECTION_REQUIRED,
            message=f"{name} needs the {tool.toolkit} toolkit, which is not connected",
            details={"toolkit": tool.toolkit},
        )
    arguments = parse_arguments(raw_arguments)
    if isinstance(arguments, ToolError):
        return arguments
    problems = schema_problems(tool.parameters, arguments)
    if problems:
        return ToolError(
            kind=ToolErrorKind.INVALID_ARGUMENTS,
            message=f"the arguments do not match {name}'s schema",
            details={"problems": problems},
        )
    return arguments


def parse_arguments(raw: str) -> dict[str, Any] | ToolError:
    """JSON object arguments, or a ``parse_error`` carrying the parser's own message."""
    text = raw.strip() or "{}"  # some models send "" for a call without arguments
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return ToolError(
            kind=ToolErrorKind.PARSE_ERROR,
            message=f"arguments are not valid JSON: {exc.msg} (line {exc.lineno}, "
            f"column {exc.colno})",
            details={"arguments": raw[:200]},
        )
    if not isinstance(value, dict):
        return ToolError(
            kind=ToolErrorKind.PARSE_ERROR,
            message=f"arguments must be a JSON object, got {type(value).__name__}",
            details={"arguments": raw[:200]},
        )
    return value


_VALIDATORS: dict[str, Draft202012Validator] = {}


def schema_problems(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[str]:
    """Every schema violation as ``"path: message"`` (``$`` is the root), at most a few."""
    key = json.dumps(schema, sort_keys=True)
    validator = _VALIDATORS.get(key)
    if validator is None:
        validator = _VALIDATORS.setdefault(key, Draft202012Validator(schema))
    problems = []
    for error in sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path)):
        path = "$" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
        )
        problems.append(f"{path}: {error.message}")
    return problems[:_MAX_SCHEMA_PROBLEMS]


def canonical_arguments(arguments: Mapping[str, Any]) -> str:
    """Arguments as one canonical string: key order and whitespace do not matter."""
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Repeat(Enum):
    NEW = "new"
    REUSE = "reuse"
    BREAK = "break"


@dataclass
class _Seen:
    result: ToolResult | None  # None while the first call is still running
    count: int


class RepeatGuard:
    """Counts identical calls (tool + canonical arguments) within one request."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], _Seen] = {}

    def check(self, slug: str, arguments: Mapping[str, Any]) -> tuple[Repeat, ToolResult | None]:
        """NEW the first time (and the call is counted); REUSE with the earlier result (None
        while it is still running) the second; BREAK after that."""
        key = (slug, canonical_arguments(arguments))
        seen = self._seen.get(key)
        if seen is None:
            self._seen[key] = _Seen(None, 1)
            return Repeat.NEW, None
        seen.count += 1
        return (Repeat.REUSE if seen.count == 2 else Repeat.BREAK), seen.result

    def record(self, slug: str, arguments: Mapping[str, Any], result: ToolResult) -> None:
        """The result of the call ``check`` said was NEW (its count is kept)."""
        key = (slug, canonical_arguments(arguments))
        seen = self._seen.setdefault(key, _Seen(None, 1))
        seen.result = result
