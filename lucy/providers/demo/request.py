"""One demo call's arguments: typed readers, page sizes, and opaque page tokens.

A problem with the arguments raises ``ProviderCallError(PROVIDER_ERROR, status=400)``, as the
real APIs answer 400 Bad Request; an unknown calendar, repository or id answers 404.

A page token encodes the tool, the offset of the next item and a fingerprint of the filter
arguments (every argument but page sizes and tokens), so a token replayed with other filters is
refused the way Google's and Jira's are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from lucy.models import ToolErrorKind
from lucy.providers.base import ProviderCallError

T = TypeVar("T")

# page sizes and positions: everything else is a filter a token is bound to
PAGING_ARGUMENTS = frozenset(
    {
        "page_token",
        "next_page_token",
        "after",
        "page",
        "skip",
        "max_results",
        "per_page",
        "first",
        "count",
        "top",
    }
)


# each tool's page-size argument and the default its API documents (as the catalog says)
PAGE_SIZES: dict[str, tuple[str, int]] = {
    "GOOGLECALENDAR_LIST_EVENTS": ("max_results", 250),
    "OUTLOOK_LIST_EVENTS": ("top", 10),
    "GITHUB_LIST_ISSUES": ("per_page", 30),
    "GITHUB_SEARCH_ISSUES": ("per_page", 30),
    "GITLAB_LIST_ISSUES": ("per_page", 20),
    "LINEAR_LIST_ISSUES": ("first", 50),
    "LINEAR_SEARCH_ISSUES": ("first", 50),
    "JIRA_SEARCH_ISSUES": ("max_results", 50),
    "SLACK_SEARCH_MESSAGES": ("count", 20),
    "GMAIL_LIST_MESSAGES": ("max_results", 100),
    "GMAIL_SEARCH_MESSAGES": ("max_results", 100),
}


def bad_request(message: str, *, argument: str | None = None) -> ProviderCallError:
    details = {"argument": argument} if argument else None
    return ProviderCallError(ToolErrorKind.PROVIDER_ERROR, message, status=400, details=details)


def not_found(message: str) -> ProviderCallError:
    return ProviderCallError(ToolErrorKind.PROVIDER_ERROR, message, status=404)


@dataclass(frozen=True)
class ToolRequest:
    slug: str
    arguments: Mapping[str, Any]
    page_size_cap: int

    def string(self, name: str) -> str | None:
        value = self.arguments.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise bad_request(f"{name} must be a string", argument=name)
        return value.strip() or None

    def strings(self, name: str) -> list[str]:
        value = self.arguments.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_request(f"{name} must be an array of strings", argument=name)
        return list(value)

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        value = self.arguments.get(name, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"{name} must be an integer", argument=name)
        if value < minimum:
            raise bad_request(f"{name} must be at least {minimum}", argument=name)
        return value

    def flag(self, name: str) -> bool:
        value = self.arguments.get(name, False)
        if not isinstance(value, bool):
            raise bad_request(f"{name} must be true or false", argument=name)
        return value

    def moment(self, name: str) -> datetime | None:
        """An RFC 3339 / ISO 8601 date-time; one without an offset is taken as UTC."""
        text = self.string(name)
        if text is None:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise bad_request(
                f"{name} is not an RFC 3339 date-time (e.g. 2025-03-03T00:00:00Z): {text!r}",
                argument=name,
            ) from None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    def page_size(self) -> int:
        """The tool's requested page size (its API's default when absent), never above the
        demo's cap."""
        name, default = PAGE_SIZES[self.slug]
        return min(self.integer(name, default, minimum=1), self.page_size_cap)

    def offset(self, name: str) -> int:
        """Where the page a token in argument ``name`` points to starts (0 without a token)."""
        token = self.string(name)
        if token is None:
            return 0
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
            body = json.loads(raw)
        except (binascii.Error, ValueError):
            raise bad_request(
                f"{name} is not a token this service issued; pass the previous response's "
                "token unchanged",
                argument=name,
            ) from None
        offset = body.get("o") if isinstance(body, dict) else None
        if not isinstance(offset, int) or offset < 0 or body.get("s") != self.slug:
            raise bad_request(f"{name} is not a token this tool issued", argument=name)
        if body.get("f") != self._fingerprint():
            raise bad_request(
                f"{name} was issued for a different query; keep every filter the same while paging",
                argument=name,
            )
        return offset

    def token(self, offset: int) -> str:
        """The opaque token of the page that starts at ``offset``."""
        body = json.dumps({"s": self.slug, "o": offset, "f": self._fingerprint()})
        return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")

    def _fingerprint(self) -> str:
        filters = {k: v for k, v in self.arguments.items() if k not in PAGING_ARGUMENTS}
        text = json.dumps(filters, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def window(items: Sequence[T], offset: int, size: int) -> tuple[list[T], bool]:
    """The ``size`` items from ``offset``, and whether any come after them."""
    return list(items[offset : offset + size]), offset + size < len(items)
