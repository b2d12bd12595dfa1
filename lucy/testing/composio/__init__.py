"""A Composio API double on loopback that the real ``composio`` SDK talks to, for tests.

`ComposioDouble` runs a real HTTP server (Starlette on uvicorn, in a background thread, on
127.0.0.1 with an OS-chosen port) that answers the ``/api/v3.1`` endpoints Lucy's Composio
provider uses, in the SDK's wire format (every answer validates against the
``composio_client.types`` response models)::

    with ComposioDouble(page_size=5) as double:
        double.connect("T024BE7LD", "github")
        composio = Composio(api_key=double.api_key, base_url=double.base_url, ...)
        ...
        assert double.count(TOOLS_EXECUTE) == 1

Served (the names ``count`` takes mirror the SDK's resource methods; every listing pages with
``cursor`` / ``limit``):

- ``GET /api/v3.1/toolkits`` (``toolkits.list``)
- ``GET /api/v3.1/tools`` (``tools.list``): ``toolkit_slug`` and ``tool_slugs`` (comma lists),
  ``query`` or ``search`` (a substring of slug, name or description)
- ``GET /api/v3.1/tools/{slug}`` (``tools.retrieve``): 404 for an unknown slug
- ``POST /api/v3.1/tools/execute/{slug}`` (``tools.execute``): see "Execute" below
- ``GET /api/v3.1/connected_accounts`` (``connected_accounts.list``): ``user_ids``,
  ``toolkit_slugs``, ``statuses``, ``auth_config_ids``, ``connected_account_ids``
- ``GET /api/v3.1/auth_configs`` (``auth_configs.list``): ``toolkit_slug``
- ``POST /api/v3.1/connected_accounts/link`` (``link.create``): a new INITIATED account and a
  ``redirect_url`` on the double
- ``GET /link/{token}`` (``link.open``, no key needed): the person finished the flow, the
  account becomes ACTIVE

Every request needs the header ``x-api-key: <api_key>`` (401 otherwise); errors use Composio's
envelope ``{"error": {"message", "code", "slug", "status", "request_id", "suggested_fix"}}``.
Code 1803 (no connected account) is Composio's own; the other codes are the double's.
Page size: the smaller of the request's ``limit`` and `page_size` (small by default, so
callers really page).

Execute: an unknown slug or a version the tool does not have is a 404; no ACTIVE account for
(``user_id``, the tool's toolkit) is a 400 with code 1803; missing required arguments are a
200 with ``successful: false`` and a validation message; otherwise
the `execute_handler` returns the ``data`` (default: an echo), or raises `ToolFailed` for a
200 with ``successful: false``. Every execute body received is kept in `executions`.

Faults (seeded: ``random.Random(seed)``; each rule applies to the endpoints it names, by
default ``tools.execute`` only; ``count=n`` = the next n matching requests, ``rate=p`` = each
matching request with probability p, neither = every matching request):

- `set_latency` - wait before answering (asynchronously; other requests are served meanwhile).
- `fail` - an HTTP error status (5xx, 403, ...) with the error envelope, optional Retry-After.
- `rate_limit` - 429 with Retry-After.
- `fail_tool` - 200 with ``successful: false`` and a message (validation-style by default).
- `malformed_json` - 200 with a truncated JSON body.
- `refuse_connections` / `accept_connections` - stop listening (connections are refused) and
  listen again on the same port.
- `set_account_status` - an account goes INACTIVE, EXPIRED, FAILED, ... (or ACTIVE again).

Counters (`count`, `counts`, `total`) include every request that reached the server, whether
it was answered normally or with a fault; `fault_counts` says which faults were played.

Modules:

- ``double``: `ComposioDouble`, the face tests use (lifecycle, state, counters, faults)
- ``state``: endpoint names, toolkits, tools, accounts, counters, ids, the demo catalog
- ``faults``: fault rules and latencies, and their seeded matching
- ``wire``: Composio's wire format, the error envelope, pages and cursors
- ``app``: the Starlette routes and handlers
"""

from lucy.testing.composio.double import ComposioDouble
from lucy.testing.composio.state import (
    ACCOUNT_STATUSES,
    ALL_ENDPOINTS,
    AUTH_CONFIGS_LIST,
    CONNECTED_ACCOUNTS_LIST,
    DEFAULT_TOOLKITS,
    DEFAULT_VERSION,
    LINK_CREATE,
    LINK_OPEN,
    NO_CONNECTED_ACCOUNT,
    TOOLKITS_LIST,
    TOOLS_EXECUTE,
    TOOLS_LIST,
    TOOLS_RETRIEVE,
    VALIDATION_MESSAGE,
    AccountStatus,
    ExecuteCall,
    ExecuteHandler,
    ToolFailed,
    echo_handler,
)

__all__ = [
    "ACCOUNT_STATUSES",
    "ALL_ENDPOINTS",
    "AUTH_CONFIGS_LIST",
    "CONNECTED_ACCOUNTS_LIST",
    "DEFAULT_TOOLKITS",
    "DEFAULT_VERSION",
    "LINK_CREATE",
    "LINK_OPEN",
    "NO_CONNECTED_ACCOUNT",
    "TOOLKITS_LIST",
    "TOOLS_EXECUTE",
    "TOOLS_LIST",
    "TOOLS_RETRIEVE",
    "VALIDATION_MESSAGE",
    "AccountStatus",
    "ComposioDouble",
    "ExecuteCall",
    "ExecuteHandler",
    "ToolFailed",
    "echo_handler",
]
