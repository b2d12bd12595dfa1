"""Turning a failed HTTP response into a ``ProviderCallError`` (for the HTTP providers).

====================== ======================== =====================================
status                 kind                     details
====================== ======================== =====================================
429                    rate_limited             retry_after from Retry-After
401, 403               auth
404                    unknown_tool             (the provider does not know the tool)
other 4xx (and < 400)  provider_error
5xx                    provider_unavailable     retry_after from Retry-After, if sent
====================== ======================== =====================================

Every error carries ``status``. Call it only for a response that failed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from lucy.models import ToolErrorKind
from lucy.providers.base import ProviderCallError


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP-date (then relative to
    ``now``, default the current time). None when absent or unreadable; never negative."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_for_status(
    status: int,
    headers: Mapping[str, str] | None = None,
    *,
    message: str | None = None,
    now: datetime | None = None,
) -> ProviderCallError:
    """The ``ProviderCallError`` for a failed response; ``message`` defaults to the status."""
    retry_after = parse_retry_after(_header(headers or {}, "retry-after"), now=now)
    text = message or f"the service answered HTTP {status}"
    if status == 429:
        return ProviderCallError(
            ToolErrorKind.RATE_LIMITED, text, status=status, retry_after=retry_after
        )
    if status >= 500:
        return ProviderCallError(
            ToolErrorKind.PROVIDER_UNAVAILABLE, text, status=status, retry_after=retry_after
        )
    if status in (401, 403):
        return ProviderCallError(ToolErrorKind.AUTH, text, status=status)
    if status == 404:
        return ProviderCallError(ToolErrorKind.UNKNOWN_TOOL, text, status=status)
    return ProviderCallError(ToolErrorKind.PROVIDER_ERROR, text, status=status)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    # plain dicts are case-sensitive; httpx.Headers are not
    return next((v for k, v in headers.items() if k.lower() == name), None)
