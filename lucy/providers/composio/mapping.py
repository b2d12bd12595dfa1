"""Composio's objects as Lucy's models: toolkit ids, toolkits, tools, accounts. Pure functions.

The SDK builds its answers without validating them, so a field the API left out is simply
missing: every reader here tolerates that and answers None ("skip this one") rather than
raising.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from lucy.models import ToolkitInfo, ToolSpec

if TYPE_CHECKING:
    from composio_client.types.connected_account_list_response import Item as AccountItem
    from composio_client.types.tool_list_response import Item as ToolItem
    from composio_client.types.toolkit_list_response import Item as ToolkitItem

PROVIDER = "composio"
READ_ONLY_HINT = "readOnlyHint"
DESTRUCTIVE_HINT = "destructiveHint"

_TOOLKIT_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_SLUG = re.compile(r"^[A-Z][A-Z0-9_]*$")


def toolkit_id(slug: str) -> str | None:
    """Lucy's id of a Composio toolkit slug: lower case, any run of other characters than
    ``[a-z0-9_]`` made one ``_`` (``google-maps`` → ``google_maps``); None when no valid id
    results (it must start with a letter)."""
    made = re.sub(r"[^a-z0-9_]+", "_", slug.strip().lower()).strip("_")
    return made if _TOOLKIT_ID.match(made) else None


def tool_slug(slug: str) -> str | None:
    """Lucy's slug of a Composio tool slug: upper case, other characters made ``_``."""
    made = re.sub(r"[^A-Z0-9_]+", "_", slug.strip().upper()).strip("_")
    return made if _SLUG.match(made) else None


def composio_user_id(workspace_id: str, user_id: str | None) -> str:
    """The Composio user id of a workspace (``T024BE7LD``) or of one person in it
    (``T024BE7LD:U123``)."""
    return f"{workspace_id}:{user_id}" if user_id else workspace_id


def toolkit_info(item: ToolkitItem) -> ToolkitInfo | None:
    """A listed toolkit as a ``ToolkitInfo``; None when its slug makes no toolkit id."""
    toolkit = toolkit_id(str(getattr(item, "slug", "") or ""))
    if toolkit is None:
        return None
    meta = getattr(item, "meta", None)
    description = getattr(meta, "description", None) if meta is not None else None
    name = getattr(item, "name", None) or toolkit
    return ToolkitInfo(toolkit=toolkit, name=str(name), description=str(description or ""))


def tool_spec(item: ToolItem) -> ToolSpec | None:
    """A listed tool as a ``ToolSpec``; None when it cannot be run from Lucy (deprecated, no
    version, a slug or toolkit that makes no id).

    ``read_only`` / ``destructive`` come from the ``readOnlyHint`` / ``destructiveHint`` tags;
    without a hint a tool counts as a write (it is not retried after it may have run).
    """
    remote = str(getattr(item, "slug", "") or "")
    slug = tool_slug(remote)
    toolkit = toolkit_id(str(getattr(getattr(item, "toolkit", None), "slug", "") or ""))
    version = getattr(item, "version", None)
    if slug is None or toolkit is None or not isinstance(version, str) or not version:
        return None
    if getattr(item, "is_deprecated", False):
        return None
    tags = set(getattr(item, "tags", None) or ())
    description = getattr(item, "description", None) or getattr(item, "human_description", None)
    try:
        return ToolSpec(
            slug=slug,
            toolkit=toolkit,
            provider=PROVIDER,
            name=str(getattr(item, "name", None) or slug),
            description=str(description or ""),
            parameters=object_schema(getattr(item, "input_parameters", None)),
            scopes=tuple(str(s) for s in getattr(item, "scopes", None) or ()),
            read_only=READ_ONLY_HINT in tags,
            destructive=DESTRUCTIVE_HINT in tags,
            version=version,
            remote_name=remote if remote != slug else None,
        )
    except ValidationError:
        return None


def object_schema(schema: Any) -> dict[str, Any]:
    """A tool's input schema as a JSON-schema object (``{"type": "object"}`` when absent)."""
    if not isinstance(schema, dict):
        return {"type": "object"}
    if "type" not in schema:
        return {"type": "object", **schema}
    return dict(schema)


def account_toolkit(account: AccountItem) -> str | None:
    """The toolkit id of a connected account that is usable now (status ACTIVE and not
    disabled); None for any other (INACTIVE, EXPIRED, FAILED, INITIATED, ...)."""
    if getattr(account, "status", None) != "ACTIVE" or getattr(account, "is_disabled", False):
        return None
    return toolkit_id(str(getattr(getattr(account, "toolkit", None), "slug", "") or ""))
