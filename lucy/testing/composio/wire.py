"""Composio's wire format, as the double speaks it: toolkits, tools, connected accounts, auth
configs and execute results as JSON; the error envelope; pages and cursors; request bodies and
comma lists.

Every body built here validates against the ``composio_client.types`` response models.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from lucy.testing.composio.state import DEFAULT_VERSION, STAMP, Account, Tool, Toolkit

_LOGO = "https://logos.composio.dev/api/{slug}"
_ID_NAMESPACE = uuid.UUID("0b7a6c1e-57d4-4c4b-9d55-1f0f5f0c9e21")


class Refused(Exception):
    """A request the double answers with an error envelope."""

    def __init__(self, status: int, code: int, slug: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.slug = slug
        self.message = message


def error_response(
    status: int,
    code: int,
    slug: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Composio's error envelope: ``{"error": {"message", "code", "slug", ...}}``."""
    body = {
        "error": {
            "message": message,
            "code": code,
            "slug": slug,
            "status": status,
            "request_id": str(uuid.uuid4()),
            "suggested_fix": "",
        }
    }
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def execute_body(data: dict[str, Any], error: str | None) -> dict[str, Any]:
    """An execute result: ``successful`` unless there is an ``error``."""
    return {
        "data": data,
        "error": error,
        "successful": error is None,
        "log_id": f"log_{uuid.uuid4().hex[:12]}",
        "session_info": None,
    }


def toolkit_wire(toolkit: Toolkit, tools_count: int) -> dict[str, Any]:
    return {
        "slug": toolkit.slug,
        "name": toolkit.name,
        "type": "native",
        "is_local_toolkit": False,
        "no_auth": False,
        "auth_schemes": ["OAUTH2"],
        "composio_managed_auth_schemes": ["OAUTH2"],
        "deprecated": {"toolkitId": str(uuid.uuid5(_ID_NAMESPACE, toolkit.slug))},
        "meta": {
            "description": toolkit.description,
            "logo": _LOGO.format(slug=toolkit.slug),
            "app_url": None,
            "categories": [{"id": "productivity", "name": "Productivity"}],
            "created_at": STAMP,
            "updated_at": STAMP,
            "tools_count": tools_count,
            "triggers_count": 0,
            "version": DEFAULT_VERSION,
        },
    }


def tool_wire(tool: Tool, toolkit_name: str) -> dict[str, Any]:
    logo = _LOGO.format(slug=tool.toolkit)
    return {
        "slug": tool.slug,
        "name": tool.name,
        "description": tool.description,
        "human_description": tool.description,
        "input_parameters": tool.input_parameters,
        "output_parameters": {
            "type": "object",
            "properties": {
                "data": {"type": "object"},
                "error": {"type": "string"},
                "successful": {"type": "boolean"},
            },
            "required": ["data", "successful"],
        },
        "scopes": tool.scopes,
        "scope_requirements": None,
        "tags": tool.tags,
        "toolkit": {"slug": tool.toolkit, "name": toolkit_name, "logo": logo},
        "version": tool.version,
        "available_versions": tool.available_versions,
        "is_deprecated": False,
        "no_auth": False,
        "deprecated": {
            "available_versions": tool.available_versions,
            "displayName": tool.name,
            "is_deprecated": False,
            "toolkit": {"logo": logo},
            "version": tool.version,
        },
    }


def account_wire(account: Account) -> dict[str, Any]:
    val: dict[str, Any] = {"status": account.status}
    if account.status in ("ACTIVE", "INACTIVE"):
        val.update(access_token="dbl-access-token", token_type="Bearer")
    elif account.status == "INITIATED":
        val["redirectUrl"] = f"https://connect.example.invalid/{account.id}"
    return {
        "id": account.id,
        "user_id": account.user_id,
        "status": account.status,
        "status_reason": None,
        "is_disabled": False,
        "toolkit": {"slug": account.toolkit},
        "auth_config": {
            "id": account.auth_config_id,
            "auth_scheme": "OAUTH2",
            "is_composio_managed": True,
            "is_disabled": False,
        },
        "state": {"authScheme": "OAUTH2", "val": val},
        "data": {},
        "created_at": account.created_at,
        "updated_at": account.updated_at,
    }


def auth_config_wire(config_id: str, toolkit: str, connections: int) -> dict[str, Any]:
    return {
        "id": config_id,
        "uuid": str(uuid.uuid5(_ID_NAMESPACE, config_id)),
        "name": f"{toolkit} (Composio managed)",
        "type": "default",
        "status": "ENABLED",
        "auth_scheme": "OAUTH2",
        "is_composio_managed": True,
        "no_of_connections": connections,
        "created_at": STAMP,
        "tool_access_config": {"tools_for_connected_account_creation": []},
        "toolkit": {"slug": toolkit, "logo": _LOGO.format(slug=toolkit)},
    }


# ---------------------------------------------------------------------- paging


def page(items: list[dict[str, Any]], request: Request, page_size: int) -> dict[str, Any]:
    """One page of ``items`` after the request's cursor, Composio's page envelope: the
    smaller of the request's ``limit`` and ``page_size`` items."""
    query = request.query_params
    size = page_size
    limit = query.get("limit")
    if limit:
        try:
            size = max(1, min(size, int(float(limit))))
        except ValueError:
            raise Refused(400, 1400, "Request_Invalid", f"bad limit {limit!r}") from None
    start = _offset(query.get("cursor"))
    chunk = items[start : start + size]
    end = start + len(chunk)
    pages = max(1, -(-len(items) // size))
    return {
        "items": chunk,
        "next_cursor": _cursor(end) if end < len(items) else None,
        "total_items": len(items),
        "total_pages": pages,
        "current_page": start // size + 1,
    }


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "offset":
            raise ValueError(text)
        return max(0, int(number))
    except ValueError:
        raise Refused(400, 1400, "Request_InvalidCursor", f"bad cursor {cursor!r}") from None


# ---------------------------------------------------------------------- requests


def comma_list(value: str | None) -> set[str]:
    """A comma list query parameter as a set (empty when absent)."""
    return {part.strip() for part in (value or "").split(",") if part.strip()}


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body (``{}`` when empty); `Refused` 400 otherwise."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise Refused(400, 1400, "Request_Invalid", "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, 1400, "Request_Invalid", "body must be a JSON object")
    return body
