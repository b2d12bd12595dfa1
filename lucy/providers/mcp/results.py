"""What an MCP tool call produced, as Lucy's result or ``ProviderCallError``. Pure, no I/O.

Data: ``structured_content`` when the server gave it; else the content blocks, each made
JSON-able: text that is a JSON object or array is decoded (many servers return JSON as text,
and the planner's completeness gate reads cursors and totals out of it), other text stays a
string, binary data (images, audio, blobs) is replaced by its size. One block is returned
alone, several as a list.

Errors: a result with ``is_error`` becomes ``execution_error`` carrying the server's text,
``invalid_arguments`` when the text is an argument-validation failure in the words the MCP
SDKs use, ``unknown_tool`` when the server no longer knows the tool. A JSON-RPC error maps by
its code (``error_of``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError

from lucy.models import ToolErrorKind
from lucy.providers.base import ProviderCallError

# How the SDKs word these failures inside an is_error result: the TypeScript SDK embeds the
# JSON-RPC error ("MCP error -32602: Input validation error: ...", "... Tool x not found"),
# the Python SDK's MCPServer reports pydantic's "1 validation error for <tool>Arguments".
_UNKNOWN_TOOL = re.compile(r"\bunknown tool\b|\btool \S+ not found\b", re.IGNORECASE)
_INVALID_ARGUMENTS = re.compile(
    r"-32602|input validation error|invalid arguments|validation errors? for \w*Arguments\b",
    re.IGNORECASE,
)
MESSAGE_CHARS = 2000


def data_of(result: types.CallToolResult) -> Any:
    """The JSON-able data of a successful call."""
    if result.structured_content is not None:
        return result.structured_content
    blocks = [_render(block) for block in result.content]
    if len(blocks) == 1:
        return blocks[0]
    return blocks


def failure_of(result: types.CallToolResult, tool_name: str) -> ProviderCallError:
    """The error an ``is_error`` result stands for (the server's own words as the message)."""
    text = " ".join(b.text.strip() for b in result.content if isinstance(b, types.TextContent))
    message = _cut(text) or f"{tool_name} failed without saying why"
    details: dict[str, Any] = {"tool": tool_name}
    if result.structured_content is not None:
        details["structured_content"] = result.structured_content
    return ProviderCallError(_kind_of_text(text), message, details=details)


def error_of(exc: MCPError, tool_name: str) -> ProviderCallError:
    """The error a JSON-RPC error response stands for (the session's own failures, such as a
    closed connection, are the session's business, not this function's)."""
    code = exc.code
    message = _cut(exc.message) or f"JSON-RPC error {code}"
    details: dict[str, Any] = {"tool": tool_name, "jsonrpc_code": code}
    if code == types.REQUEST_TIMEOUT:
        kind = ToolErrorKind.TIMEOUT
    elif code == types.INVALID_PARAMS:
        kind = (
            ToolErrorKind.UNKNOWN_TOOL
            if _UNKNOWN_TOOL.search(message)
            else ToolErrorKind.INVALID_ARGUMENTS
        )
    else:
        kind = ToolErrorKind.PROVIDER_ERROR
    return ProviderCallError(kind, message, details=details)


def _kind_of_text(text: str) -> ToolErrorKind:
    if _UNKNOWN_TOOL.search(text):
        return ToolErrorKind.UNKNOWN_TOOL
    if _INVALID_ARGUMENTS.search(text):
        return ToolErrorKind.INVALID_ARGUMENTS
    return ToolErrorKind.EXECUTION_ERROR


def _render(block: types.ContentBlock) -> Any:
    if isinstance(block, types.TextContent):
        return _text(block.text)
    if isinstance(block, types.ImageContent | types.AudioContent):
        return {"type": block.type, "mime_type": block.mime_type, "bytes": _size(block.data)}
    if isinstance(block, types.EmbeddedResource):
        contents = block.resource
        rendered: dict[str, Any] = {"type": "resource", "uri": contents.uri}
        if contents.mime_type:
            rendered["mime_type"] = contents.mime_type
        if isinstance(contents, types.TextResourceContents):
            rendered["text"] = _text(contents.text)
        else:
            rendered["bytes"] = _size(contents.blob)
        return rendered
    # a resource link: its name, URI and description are what a reader needs
    return block.model_dump(mode="json", exclude_none=True, exclude={"meta", "annotations"})


def _text(text: str) -> Any:
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except ValueError:
            pass
    return text


def _size(data: str) -> int:
    """Decoded size of base64 ``data`` (its encoded length when it is not valid base64)."""
    try:
        return len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return len(data)


def _cut(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"
