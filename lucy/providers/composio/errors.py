"""Composio failures as ``ProviderCallError``: which ``ToolErrorKind``, and whether the request
may have reached Composio (``sent``).

===================================================== ====================== =================
failure                                               kind                   sent
===================================================== ====================== =================
HTTP 400 with error code 1803 (no connected account)  connection_required    as below
HTTP 400/422 whose message names bad arguments        invalid_arguments      as below
HTTP 401, 403                                         auth                   as below
HTTP 404, or the SDK's ``ToolNotFoundError``          unknown_tool           as below
HTTP 429                                              rate_limited           as below
                                                      (retry_after from Retry-After)
HTTP 5xx                                              provider_unavailable   as below
other HTTP 4xx                                        provider_error         as below
connection refused, connect or pool timeout           provider_unavailable   False
read or write timeout                                 timeout                as below
connection dropped after sending                      provider_unavailable   as below
a 2xx whose body is not valid JSON (or not the shape) provider_unavailable   as below
any other SDK or unexpected error                     execution_error        as below
200 with ``successful: false``: bad arguments         invalid_arguments      True
200 with ``successful: false``: no connected account  connection_required    True
200 with ``successful: false``: anything else         execution_error        True
===================================================== ====================== =================

"As below": a failure is ``sent`` unless the failed request was not the execute call itself
(``tools.execute`` first reads the tool's schema once per slug; when that read fails, the
execution was never sent and even a write may be retried).

A malformed 2xx is ``provider_unavailable``, not ``execution_error``: the answer was garbled
on the way (a proxy, a truncated body), it says nothing about the tool. So a read is retried,
a write is reported with ``outcome_unknown`` (it may have run), and a provider that keeps
sending garbage trips the breaker, which an ``execution_error`` would not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from lucy.models import ToolErrorKind
from lucy.providers.base import ProviderCallError
from lucy.providers.http_errors import error_for_status

log = logging.getLogger(__name__)

NO_CONNECTED_ACCOUNT = 1803
_EXECUTE_PATH = "/tools/execute/"

# Messages that say the arguments are wrong: Composio's own ("Invalid request data provided /
# Following fields are missing"), pydantic's and JSON-schema validators' wording.
_INVALID_ARGUMENTS = re.compile(
    r"invalid request data|fields? (?:are|is) missing|missing required|field required"
    r"|is a required property|validation error|not a valid|is not of type"
    r"|additional properties|unexpected (?:keyword|argument|parameter|property)"
    r"|invalid (?:argument|parameter|param|value|input|type)s?\b"
    r"|\b(?:parameter|field|argument|property)\b[^.\n]{0,60}\bis required",
    re.IGNORECASE,
)
_NOT_CONNECTED = re.compile(
    r"no (?:active )?connected account"
    r"|connected account[^.\n]{0,60}\b(?:not found|inactive|expired|not active)",
    re.IGNORECASE,
)


def error_from_exception(exc: Exception) -> ProviderCallError:
    """The ``ProviderCallError`` for an exception the SDK raised (see the module table)."""
    import httpx
    from composio import exceptions as sdk_errors
    from composio_client import (
        APIConnectionError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
    )

    if isinstance(exc, ProviderCallError):
        return exc
    sent = _sent(exc)
    if isinstance(exc, APIStatusError):
        return _status_error(exc, sent)
    if isinstance(exc, APITimeoutError):
        if isinstance(exc.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout):
            return _unavailable("could not connect to Composio in time", sent=False)
        return ProviderCallError(
            ToolErrorKind.TIMEOUT, "Composio did not answer in time", sent=sent
        )
    if isinstance(exc, APIConnectionError):
        if isinstance(exc.__cause__, httpx.ConnectError):
            return _unavailable("could not connect to Composio (connection refused)", sent=False)
        cause = type(exc.__cause__).__name__ if exc.__cause__ else "connection error"
        return _unavailable(f"the connection to Composio failed ({cause})", sent=sent)
    if isinstance(exc, APIResponseValidationError):
        return _unavailable(
            f"Composio sent an unreadable answer (HTTP {exc.status_code}): {exc.message}",
            status=exc.status_code,
            sent=sent,
        )
    if isinstance(exc, sdk_errors.ToolNotFoundError):
        # raised by the schema read that precedes an execution: nothing was executed
        return ProviderCallError(ToolErrorKind.UNKNOWN_TOOL, str(exc), status=404, sent=False)
    log.warning("unexpected error from the Composio SDK", exc_info=exc)
    return ProviderCallError(
        ToolErrorKind.EXECUTION_ERROR,
        f"{type(exc).__name__}: {exc}",
        details={"exception": type(exc).__name__},
        sent=sent,
    )


def error_from_result(result: Mapping[str, Any]) -> ProviderCallError:
    """The ``ProviderCallError`` for an execution Composio answered with ``successful:
    false``: the request certainly ran, so it is always ``sent``."""
    message = str(result.get("error") or "the tool failed without saying why")
    if _NOT_CONNECTED.search(message):
        return ProviderCallError(ToolErrorKind.CONNECTION_REQUIRED, message)
    if _INVALID_ARGUMENTS.search(message):
        return ProviderCallError(ToolErrorKind.INVALID_ARGUMENTS, message)
    return ProviderCallError(ToolErrorKind.EXECUTION_ERROR, message)


def _status_error(exc: Any, sent: bool) -> ProviderCallError:
    """A Composio error answer (``exc`` is a ``composio_client.APIStatusError``)."""
    status = int(exc.status_code)
    envelope = _envelope(exc.body)
    detail = str(envelope.get("message") or exc.message)
    message = f"Composio answered HTTP {status}: {detail}"
    if envelope.get("code") == NO_CONNECTED_ACCOUNT or (
        status == 400 and _NOT_CONNECTED.search(detail)
    ):
        return ProviderCallError(
            ToolErrorKind.CONNECTION_REQUIRED, message, status=status, sent=sent
        )
    if status in (400, 422) and _INVALID_ARGUMENTS.search(detail):
        return ProviderCallError(ToolErrorKind.INVALID_ARGUMENTS, message, status=status, sent=sent)
    error = error_for_status(status, exc.response.headers, message=message)
    return ProviderCallError(
        error.kind,
        str(error),
        status=error.status,
        retry_after=error.retry_after,
        details=error.details,
        sent=sent,
    )


def _envelope(body: object) -> dict[str, Any]:
    """The inner object of Composio's error body ``{"error": {...}}``; {} for anything else."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return dict(body["error"])
    return {}


def _sent(exc: Exception) -> bool:
    """Whether the failed request may have been the execution itself (True when unknown)."""
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if url is None:
        return True
    return _EXECUTE_PATH in str(getattr(url, "path", ""))


def _unavailable(message: str, *, sent: bool, status: int | None = None) -> ProviderCallError:
    return ProviderCallError(ToolErrorKind.PROVIDER_UNAVAILABLE, message, status=status, sent=sent)
