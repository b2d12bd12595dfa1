"""The completeness gate: a reply that claims to be complete ("that's all", "here are all your
...", "no other ...") must be backed by the tool results.

Pure functions over JSON results: ``claims_completeness`` reads the reply; ``more_available``
finds the signals that a result is one page of more (a next cursor or token, ``has_more``,
totals above the count returned, a page exactly at the requested limit, Lucy's own truncation);
``next_page_arguments`` builds the call for the following page; ``result_items`` and
``item_label`` find what a list result lists, so the loop can tell whether the reply names it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import parse_qs, urlparse

_CLAIM = re.compile(
    r"\b(that'?s all|that is all|those are all|these are all|here (are|is) all|all (of )?your"
    r"|no other|no more|nothing else|that'?s everything|that is everything|the only (one|ones)"
    r"|complete list|full list|every one of)\b",
    re.IGNORECASE,
)
# names of a request's page-size parameter, in the order providers use them
LIMIT_PARAMS = ("max_results", "per_page", "limit", "first", "top", "count", "page_size", "pagelen")
# parameters that only move through pages: a chain of pages shares everything else
PAGE_PARAMS = frozenset(
    {
        "page_token",
        "pageToken",
        "next_page_token",
        "cursor",
        "after",
        "skip",
        "skip_token",
        "page",
        "offset",
        "start_cursor",
    }
)
_TOKEN_KEYS = ("nextPageToken", "next_page_token", "next_cursor", "nextCursor", "next_page")
_TOKEN_PARAMS = ("page_token", "pageToken", "next_page_token", "cursor", "start_cursor")
_MORE_FLAGS = ("has_more", "hasMore", "hasNextPage", "more", "more_results")
_TOTAL_KEYS = ("total", "total_count", "totalCount", "resultSizeEstimate", "totalSize")
_LABEL_KEYS = ("summary", "title", "subject", "name", "text", "snippet")


def claims_completeness(text: str) -> bool:
    return _CLAIM.search(text) is not None


def _containers(data: Any) -> list[Mapping[str, Any]]:
    """The result and the mappings one level inside it (Slack nests paging in "messages")."""
    if not isinstance(data, Mapping):
        return []
    return [data, *(v for v in data.values() if isinstance(v, Mapping))]


def result_items(data: Any) -> list[Any]:
    """The longest list in the result or one level inside it: what the page lists."""
    if isinstance(data, list):
        return data
    lists = [v for c in _containers(data) for v in c.values() if isinstance(v, list)]
    return max(lists, key=len, default=[])


def item_label(item: Any) -> str | None:
    """What a person would call a listed item (an event's summary, an issue's title)."""
    if isinstance(item, Mapping):
        for key in _LABEL_KEYS:
            value = item.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def _requested_limit(arguments: Mapping[str, Any]) -> int | None:
    for name in LIMIT_PARAMS:
        value = arguments.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def more_available(
    data: Any,
    arguments: Mapping[str, Any],
    *,
    truncated: bool,
    parameters: Collection[str] = (),
) -> str | None:
    """Why this result is probably not everything, or None when nothing says so.

    ``parameters`` are the tool's parameter names: a tool that pages by token or cursor says
    "more" by returning one, so a full last page without a token is the end, not a hint."""
    if truncated:
        return "Lucy truncated the result"
    count = len(result_items(data))
    paged_by_token = any(arguments.get(p) for p in _TOKEN_PARAMS)
    explicit_end = any(p in parameters for p in (*_TOKEN_PARAMS, "after"))
    for c in _containers(data):
        for key in _TOKEN_KEYS:
            if c.get(key):
                return f"the result has {key}"
        if c.get("@odata.nextLink"):
            return "the result has @odata.nextLink"
        page_info = c.get("pageInfo")
        if isinstance(page_info, Mapping) and page_info.get("hasNextPage"):
            return "pageInfo.hasNextPage is true"
        for key in _MORE_FLAGS:
            if c.get(key) is True:
                return f"{key} is true"
            if c.get(key) is False:
                explicit_end = True
        if c.get("isLast") is False:
            return "isLast is false"
        if c.get("isLast") is True:
            explicit_end = True
        for key in _TOTAL_KEYS:
            total = c.get(key)
            if paged_by_token or not isinstance(total, int) or isinstance(total, bool):
                continue  # a total cannot place a page reached by token (Gmail's estimate)
            if count and total > _offset(arguments, c, count) + count:
                return f"{key} is {total} but {count} were returned"
            explicit_end = True
        paging = c.get("paging")
        if isinstance(paging, Mapping):
            page, pages = paging.get("page"), paging.get("pages")
            if isinstance(page, int) and isinstance(pages, int):
                if page < pages:
                    return f"page {page} of {pages}"
                explicit_end = True
    limit = _requested_limit(arguments)
    if not explicit_end and limit is not None and count == limit:
        return f"the page is exactly the requested limit ({limit})"
    return None


def _offset(arguments: Mapping[str, Any], container: Mapping[str, Any], count: int) -> int:
    """Items before this page, when the request paged by number or offset. The page size is
    the one the result reports, else the count returned (providers cap page sizes)."""
    page = arguments.get("page")
    if isinstance(page, int) and page > 1:
        size = container.get("per_page")
        return (page - 1) * (size if isinstance(size, int) and size > 0 else count)
    skip = arguments.get("skip", arguments.get("offset"))
    return skip if isinstance(skip, int) else 0


def next_page_arguments(
    data: Any, arguments: Mapping[str, Any], parameters: Collection[str]
) -> dict[str, Any] | None:
    """The arguments that fetch the next page, if the result and the tool's parameters allow."""
    out = dict(arguments)
    for c in _containers(data):
        token = next((c[k] for k in _TOKEN_KEYS if c.get(k)), None)
        if token is not None:
            param = next((p for p in _TOKEN_PARAMS if p in parameters), None)
            if param is not None:
                out[param] = token
                return out
        page_info = c.get("pageInfo")
        if (
            isinstance(page_info, Mapping)
            and page_info.get("hasNextPage")
            and page_info.get("endCursor")
            and "after" in parameters
        ):
            out["after"] = page_info["endCursor"]
            return out
        link = c.get("@odata.nextLink")
        if isinstance(link, str):
            query = parse_qs(urlparse(link).query)
            for key, param in (("$skiptoken", "skip_token"), ("$skip", "skip")):
                if key in query and param in parameters:
                    value = query[key][0]
                    out[param] = int(value) if param == "skip" and value.isdigit() else value
                    return out
    if "page" in parameters:
        page = arguments.get("page", 1)
        if isinstance(page, int):
            out["page"] = page + 1
            return out
    if "skip" in parameters and (limit := _requested_limit(arguments)):
        skip = arguments.get("skip", 0)
        if isinstance(skip, int):
            out["skip"] = skip + limit
            return out
    return None


def chain_key(slug: str, arguments: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Pages of one listing share this key: the tool and every argument but the page ones."""
    return slug, tuple(sorted((k, repr(v)) for k, v in arguments.items() if k not in PAGE_PARAMS))
