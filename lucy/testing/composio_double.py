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
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from lucy.models import ToolkitInfo, ToolSpec
from lucy.testing.loopback import LoopbackServer

__all__ = [
    "ACCOUNT_STATUSES",
    "ALL_ENDPOINTS",
    "AUTH_CONFIGS_LIST",
    "CONNECTED_ACCOUNTS_LIST",
    "DEFAULT_TOOLKITS",
    "DEFAULT_VERSION",
    "LINK_CREATE",
    "LINK_OPEN",
    "TOOLKITS_LIST",
    "TOOLS_EXECUTE",
    "TOOLS_LIST",
    "TOOLS_RETRIEVE",
    "VALIDATION_MESSAGE",
    "ComposioDouble",
    "ExecuteCall",
    "ToolFailed",
]

TOOLKITS_LIST = "toolkits.list"
TOOLS_LIST = "tools.list"
TOOLS_RETRIEVE = "tools.retrieve"
TOOLS_EXECUTE = "tools.execute"
CONNECTED_ACCOUNTS_LIST = "connected_accounts.list"
AUTH_CONFIGS_LIST = "auth_configs.list"
LINK_CREATE = "link.create"
LINK_OPEN = "link.open"
ALL_ENDPOINTS = frozenset(
    {
        TOOLKITS_LIST,
        TOOLS_LIST,
        TOOLS_RETRIEVE,
        TOOLS_EXECUTE,
        CONNECTED_ACCOUNTS_LIST,
        AUTH_CONFIGS_LIST,
        LINK_CREATE,
        LINK_OPEN,
    }
)

AccountStatus = Literal["INITIALIZING", "INITIATED", "ACTIVE", "FAILED", "EXPIRED", "INACTIVE"]
ACCOUNT_STATUSES: tuple[AccountStatus, ...] = (
    "INITIALIZING",
    "INITIATED",
    "ACTIVE",
    "FAILED",
    "EXPIRED",
    "INACTIVE",
)
DEFAULT_TOOLKITS = ("github", "linear", "slack", "gmail", "googlecalendar")
DEFAULT_VERSION = "20251201_00"
VALIDATION_MESSAGE = "Invalid request data provided\n- Following fields are missing: {'owner'}"
NO_CONNECTED_ACCOUNT = 1803

_API = "/api/v3.1"
_STAMP = "2026-12-01T00:00:00.000Z"
_LOGO = "https://logos.composio.dev/api/{slug}"
_SLEEP_TICK_S = 0.02
_ID_NAMESPACE = uuid.UUID("0b7a6c1e-57d4-4c4b-9d55-1f0f5f0c9e21")


class ToolFailed(Exception):
    """Raised by an execute handler: the call is answered 200 with ``successful: false`` and
    this message as ``error``."""


@dataclass(frozen=True)
class ExecuteCall:
    """One execute request as the double received it (the JSON body, plus the slug)."""

    slug: str
    body: dict[str, Any]

    @property
    def arguments(self) -> dict[str, Any]:
        value = self.body.get("arguments")
        return value if isinstance(value, dict) else {}

    @property
    def user_id(self) -> str | None:
        value = self.body.get("user_id") or self.body.get("entity_id")
        return value if isinstance(value, str) else None

    @property
    def version(self) -> str | None:
        value = self.body.get("version")
        return value if isinstance(value, str) else None


ExecuteHandler = Callable[[ExecuteCall], dict[str, Any]]
"""Given an execute request that passed the double's checks, the result's ``data``; raise
`ToolFailed` for a failed execution."""


def echo_handler(call: ExecuteCall) -> dict[str, Any]:
    """The default execute handler: says what ran, with which arguments, for whom."""
    return {
        "tool": call.slug,
        "arguments": call.arguments,
        "user_id": call.user_id,
        "version": call.version,
    }


@dataclass
class _Toolkit:
    slug: str
    name: str
    description: str


@dataclass
class _Tool:
    slug: str
    toolkit: str
    name: str
    description: str
    input_parameters: dict[str, Any]
    scopes: list[str]
    tags: list[str]
    version: str
    available_versions: list[str]


@dataclass
class _Account:
    id: str
    user_id: str
    toolkit: str
    status: AccountStatus
    auth_config_id: str
    created_at: str = _STAMP
    link_token: str | None = None


@dataclass
class _Rule:
    """One fault: what to answer, on which endpoints, how often."""

    action: Literal["status", "malformed", "tool_failure"]
    endpoints: frozenset[str]
    count: int | None
    rate: float
    status: int = 503
    retry_after: float | None = None
    message: str = ""

    def fires(self, rng: random.Random) -> bool:
        if self.count is not None:
            if self.count <= 0:
                return False
            self.count -= 1
            return True
        return rng.random() < self.rate


@dataclass
class _State:
    toolkits: dict[str, _Toolkit] = field(default_factory=dict)
    tools: dict[str, _Tool] = field(default_factory=dict)
    accounts: dict[str, _Account] = field(default_factory=dict)
    auth_configs: dict[str, str] = field(default_factory=dict)  # toolkit -> auth config id
    rules: list[_Rule] = field(default_factory=list)
    latency: dict[str, float] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    executions: list[ExecuteCall] = field(default_factory=list)


class _Refused(Exception):
    """A request the double answers with an error envelope."""

    def __init__(self, status: int, code: int, slug: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.slug = slug
        self.message = message


class ComposioDouble:
    """A Composio API double: see the module docstring for endpoints, state and faults.

    ``toolkits`` names toolkits of the bundled demo catalog to serve (default
    `DEFAULT_TOOLKITS`; ``()`` for none, then add your own with `add_toolkit`/`add_tool`).
    Each served toolkit gets one enabled auth config, so connect links work. State may be
    changed from the test thread while the server runs.
    """

    def __init__(
        self,
        toolkits: Iterable[str] | None = DEFAULT_TOOLKITS,
        *,
        page_size: int = 10,
        api_key: str = "test-composio-key",
        seed: int = 0,
        execute_handler: ExecuteHandler = echo_handler,
        version: str = DEFAULT_VERSION,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.page_size = page_size
        self.api_key = api_key
        self.execute_handler = execute_handler
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._state = _State()
        self._ids = 0
        self._stopping = threading.Event()
        self._runner: LoopbackServer | None = None
        self._port: int | None = None
        for info, specs in _demo_toolkits(tuple(toolkits or ())):
            self.add_toolkit(info.toolkit, info.name, info.description)
            for spec in specs:
                self.add_tool(
                    spec.slug,
                    info.toolkit,
                    name=spec.name,
                    description=spec.description,
                    input_parameters=spec.parameters,
                    scopes=spec.scopes,
                    read_only=spec.read_only,
                    destructive=spec.destructive,
                    version=version,
                )

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """The URL to pass as the SDK's ``base_url``: http://127.0.0.1:PORT."""
        if self._port is None:
            raise RuntimeError("ComposioDouble is not running; call start() or use `with`")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> None:
        """Start serving on 127.0.0.1 (an OS-chosen port the first time, the same one after
        `refuse_connections`); return once the socket is bound."""
        if self._runner is not None:
            raise RuntimeError("ComposioDouble is already running")
        self._stopping.clear()
        runner = LoopbackServer(
            self._app(),
            lifespan="off",
            name="composio-double",
            port=self._port or 0,
            graceful_seconds=1,
        )
        runner.start()
        self._runner, self._port = runner, runner.port

    def stop(self) -> None:
        """Stop serving and join the server thread; pending latency waits are cut short."""
        self._halt()

    def refuse_connections(self) -> None:
        """Stop listening: new connections are refused until `accept_connections`."""
        self._halt()

    def accept_connections(self) -> None:
        """Listen again, on the same port, with the same state."""
        if self._runner is None:
            self.start()

    def __enter__(self) -> ComposioDouble:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _halt(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            self._stopping.set()
            runner.stop()

    # ------------------------------------------------------------------ state

    def add_toolkit(self, slug: str, name: str, description: str = "") -> None:
        """Serve a toolkit (with one enabled auth config for it)."""
        with self._lock:
            self._state.toolkits[slug] = _Toolkit(slug, name, description)
            if slug not in self._state.auth_configs:
                self._state.auth_configs[slug] = self._next_id("ac")

    def add_tool(
        self,
        slug: str,
        toolkit: str,
        *,
        name: str | None = None,
        description: str = "",
        input_parameters: Mapping[str, Any] | None = None,
        scopes: Sequence[str] = (),
        read_only: bool = False,
        destructive: bool = False,
        version: str = DEFAULT_VERSION,
        available_versions: Sequence[str] | None = None,
    ) -> None:
        """Serve a tool (replacing one with the same slug). ``read_only`` and ``destructive``
        become Composio's ``readOnlyHint`` / ``destructiveHint`` tags."""
        tags = (["readOnlyHint"] if read_only else []) + (
            ["destructiveHint"] if destructive else []
        )
        tool = _Tool(
            slug=slug,
            toolkit=toolkit,
            name=name or slug.replace("_", " ").title(),
            description=description,
            input_parameters=dict(input_parameters or {"type": "object", "properties": {}}),
            scopes=list(scopes),
            tags=tags,
            version=version,
            available_versions=list(available_versions or [version]),
        )
        with self._lock:
            if toolkit not in self._state.toolkits:
                raise KeyError(f"unknown toolkit {toolkit!r}: add_toolkit first")
            self._state.tools[slug] = tool

    def set_tool_version(self, slug: str, version: str, *, keep_old: bool = False) -> None:
        """Move a tool to ``version``; the old version stays executable only if ``keep_old``."""
        with self._lock:
            tool = self._state.tools[slug]
            versions = [*tool.available_versions, version] if keep_old else [version]
            tool.version = version
            tool.available_versions = list(dict.fromkeys(versions))

    def remove_tool(self, slug: str) -> None:
        with self._lock:
            self._state.tools.pop(slug, None)

    def tool_slugs(self, toolkits: Iterable[str] | None = None) -> list[str]:
        """Slugs of the tools served (of ``toolkits`` only, when given), in listing order."""
        wanted = None if toolkits is None else set(toolkits)
        with self._lock:
            return [
                t.slug for t in self._state.tools.values() if wanted is None or t.toolkit in wanted
            ]

    def toolkit_slugs(self) -> list[str]:
        with self._lock:
            return list(self._state.toolkits)

    def connect(self, user_id: str, toolkit: str, status: AccountStatus = "ACTIVE") -> str:
        """Add a connected account of ``user_id`` for ``toolkit``; returns its id."""
        with self._lock:
            if toolkit not in self._state.toolkits:
                raise KeyError(f"unknown toolkit {toolkit!r}")
            account = _Account(
                id=self._next_id("ca"),
                user_id=user_id,
                toolkit=toolkit,
                status=status,
                auth_config_id=self._state.auth_configs[toolkit],
            )
            self._state.accounts[account.id] = account
            return account.id

    def set_account_status(self, account_id: str, status: AccountStatus) -> None:
        """An account changes status (e.g. goes INACTIVE or EXPIRED)."""
        if status not in ACCOUNT_STATUSES:
            raise ValueError(f"unknown account status {status!r}")
        with self._lock:
            self._state.accounts[account_id].status = status

    def account_status(self, account_id: str) -> AccountStatus:
        with self._lock:
            return self._state.accounts[account_id].status

    @property
    def executions(self) -> list[ExecuteCall]:
        """Every execute request received, in arrival order (a copy)."""
        with self._lock:
            return list(self._state.executions)

    # ------------------------------------------------------------------ counters

    def count(self, endpoint: str) -> int:
        """Requests that reached ``endpoint`` (a name such as `TOOLS_EXECUTE`)."""
        with self._lock:
            return self._state.counts[endpoint]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._state.counts)

    def total(self) -> int:
        """Requests that reached the server, on any path."""
        with self._lock:
            return sum(self._state.counts.values())

    def fault_counts(self) -> dict[str, int]:
        """Faults played so far: ``"503"``, ``"429"``, ``"malformed"``, ``"tool_failure"``."""
        with self._lock:
            return dict(self._state.faults)

    def reset_counts(self) -> None:
        """Zero the request and fault counters and forget the recorded executions."""
        with self._lock:
            self._state.counts.clear()
            self._state.faults.clear()
            self._state.executions.clear()

    # ------------------------------------------------------------------ faults

    def set_latency(self, seconds: float, *, endpoints: Iterable[str] = (TOOLS_EXECUTE,)) -> None:
        """Wait ``seconds`` before answering requests to ``endpoints`` (0 removes it)."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            for endpoint in _endpoints(endpoints):
                self._state.latency[endpoint] = seconds

    def fail(
        self,
        status: int = 503,
        *,
        count: int | None = None,
        rate: float | None = None,
        retry_after: float | None = None,
        message: str | None = None,
        endpoints: Iterable[str] = (TOOLS_EXECUTE,),
    ) -> None:
        """Answer HTTP ``status`` (an error, 400-599) with the error envelope; ``retry_after``
        seconds are sent as a Retry-After header when given."""
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error (400-599)")
        text = message or ("Service temporarily unavailable" if status >= 500 else "Refused")
        self._add_rule("status", endpoints, count, rate, status, retry_after, text)

    def rate_limit(
        self,
        *,
        count: int | None = None,
        rate: float | None = None,
        retry_after: float | None = 1.0,
        endpoints: Iterable[str] = (TOOLS_EXECUTE,),
    ) -> None:
        """Answer 429 with ``Retry-After: retry_after`` (None: no header)."""
        self.fail(
            429,
            count=count,
            rate=rate,
            retry_after=retry_after,
            message="Rate limit exceeded",
            endpoints=endpoints,
        )

    def fail_tool(
        self,
        message: str = VALIDATION_MESSAGE,
        *,
        count: int | None = None,
        rate: float | None = None,
    ) -> None:
        """Answer execute requests 200 with ``successful: false`` and ``error: message``."""
        self._add_rule("tool_failure", (TOOLS_EXECUTE,), count, rate, 200, None, message)

    def malformed_json(
        self,
        *,
        count: int | None = None,
        rate: float | None = None,
        endpoints: Iterable[str] = (TOOLS_EXECUTE,),
    ) -> None:
        """Answer 200 with a truncated JSON body (``application/json``)."""
        self._add_rule("malformed", endpoints, count, rate, 200, None, "")

    def clear_faults(self) -> None:
        """Remove every fault rule and latency (state and counters stay)."""
        with self._lock:
            self._state.rules.clear()
            self._state.latency.clear()

    def _add_rule(
        self,
        action: Literal["status", "malformed", "tool_failure"],
        endpoints: Iterable[str],
        count: int | None,
        rate: float | None,
        status: int,
        retry_after: float | None,
        message: str,
    ) -> None:
        if count is not None and rate is not None:
            raise ValueError("give count or rate, not both")
        if count is not None and count < 0:
            raise ValueError("count must be >= 0")
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within 0..1")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        rule = _Rule(
            action=action,
            endpoints=_endpoints(endpoints),
            count=count,
            rate=1.0 if rate is None else rate,
            status=status,
            retry_after=retry_after,
            message=message,
        )
        with self._lock:
            self._state.rules.append(rule)

    def _next_id(self, prefix: str) -> str:
        # called with the lock held
        self._ids += 1
        return f"{prefix}_dbl{self._ids:07d}"

    # ------------------------------------------------------------------ the app

    def _app(self) -> Starlette:
        routes = [
            Route(f"{_API}/toolkits", self._endpoint(TOOLKITS_LIST, self._toolkits_list)),
            Route(f"{_API}/tools", self._endpoint(TOOLS_LIST, self._tools_list)),
            Route(
                f"{_API}/tools/execute/{{slug}}",
                self._endpoint(TOOLS_EXECUTE, self._tools_execute),
                methods=["POST"],
            ),
            Route(f"{_API}/tools/{{slug}}", self._endpoint(TOOLS_RETRIEVE, self._tools_retrieve)),
            Route(
                f"{_API}/connected_accounts/link",
                self._endpoint(LINK_CREATE, self._link_create),
                methods=["POST"],
            ),
            Route(
                f"{_API}/connected_accounts",
                self._endpoint(CONNECTED_ACCOUNTS_LIST, self._accounts_list),
            ),
            Route(f"{_API}/auth_configs", self._endpoint(AUTH_CONFIGS_LIST, self._auth_configs)),
            Route("/link/{token}", self._endpoint(LINK_OPEN, self._link_open, keyed=False)),
        ]
        return Starlette(routes=routes)

    def _endpoint(
        self,
        name: str,
        handler: Callable[[Request], Any],
        *,
        keyed: bool = True,
    ) -> Callable[[Request], Any]:
        """Wrap a handler: count, wait, check the key, play faults, map `_Refused`."""

        async def endpoint(request: Request) -> Response:
            with self._lock:
                self._state.counts[name] += 1
                latency = self._state.latency.get(name, 0.0)
            if latency:
                await self._sleep(latency)
            if keyed and request.headers.get("x-api-key") != self.api_key:
                return _error(401, 1401, "Auth_InvalidApiKey", "Invalid API key")
            fault = self._fault(name)
            if fault is not None and fault.action == "status":
                headers = (
                    {"retry-after": f"{fault.retry_after:g}"}
                    if fault.retry_after is not None
                    else None
                )
                code = 1429 if fault.status == 429 else 1000 + fault.status
                return _error(fault.status, code, "Double_Fault", fault.message, headers)
            if fault is not None and fault.action == "malformed":
                return Response('{"data": {"items": [', media_type="application/json")
            try:
                if fault is not None and fault.action == "tool_failure":
                    return JSONResponse(_execute_body({}, fault.message))
                result = handler(request)
                if asyncio.iscoroutine(result):
                    result = await result
            except _Refused as refused:
                return _error(refused.status, refused.code, refused.slug, refused.message)
            assert isinstance(result, Response)
            return result

        return endpoint

    def _fault(self, endpoint: str) -> _Rule | None:
        with self._lock:
            for rule in self._state.rules:
                if endpoint in rule.endpoints and rule.fires(self._rng):
                    name = str(rule.status) if rule.action == "status" else rule.action
                    self._state.faults[name] += 1
                    return rule
        return None

    async def _sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._stopping.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, _SLEEP_TICK_S))

    # --- toolkits and tools

    def _toolkits_list(self, request: Request) -> Response:
        with self._lock:
            counts = Counter(t.toolkit for t in self._state.tools.values())
            items = [_toolkit_wire(tk, counts[tk.slug]) for tk in self._state.toolkits.values()]
        return JSONResponse(self._page(items, request))

    def _tools_list(self, request: Request) -> Response:
        query = request.query_params
        toolkits = _csv(query.get("toolkit_slug"))
        slugs = {s.upper() for s in _csv(query.get("tool_slugs"))}
        search = (query.get("query") or query.get("search") or "").strip().lower()
        with self._lock:
            tools = list(self._state.tools.values())
            names = {slug: tk.name for slug, tk in self._state.toolkits.items()}
        chosen = [
            t
            for t in tools
            if (not toolkits or t.toolkit in toolkits)
            and (not slugs or t.slug in slugs)
            and (not search or search in f"{t.slug} {t.name} {t.description}".lower())
        ]
        items = [_tool_wire(t, names.get(t.toolkit, t.toolkit)) for t in chosen]
        return JSONResponse(self._page(items, request))

    def _tools_retrieve(self, request: Request) -> Response:
        slug = request.path_params["slug"].upper()
        with self._lock:
            tool = self._state.tools.get(slug)
            name = self._state.toolkits[tool.toolkit].name if tool else ""
        if tool is None:
            raise _Refused(404, 1404, "Tool_NotFound", f"Tool {slug} not found")
        return JSONResponse(_tool_wire(tool, name))

    async def _tools_execute(self, request: Request) -> Response:
        slug = request.path_params["slug"].upper()
        body = await _json_body(request)
        call = ExecuteCall(slug=slug, body=body)
        with self._lock:
            self._state.executions.append(call)
            tool = self._state.tools.get(slug)
            account = self._active_account(call, tool.toolkit) if tool else None
        if tool is None:
            raise _Refused(404, 1404, "Tool_NotFound", f"Tool {slug} not found")
        version = call.version or "latest"
        if version != "latest" and version not in tool.available_versions:
            raise _Refused(
                404,
                1405,
                "Tool_VersionNotFound",
                f"Version {version} of tool {slug} not found; available: "
                + ", ".join(tool.available_versions),
            )
        if account is None:
            raise _Refused(
                400,
                NO_CONNECTED_ACCOUNT,
                "ConnectedAccount_NotFound",
                f"No connected account found for user {call.user_id} and toolkit {tool.toolkit}",
            )
        missing = sorted(set(tool.input_parameters.get("required") or []) - set(call.arguments))
        if missing:
            fields = ", ".join(repr(m) for m in missing)
            text = f"Invalid request data provided\n- Following fields are missing: {{{fields}}}"
            return JSONResponse(_execute_body({}, text))
        try:
            data = self.execute_handler(call)
        except ToolFailed as failed:
            return JSONResponse(_execute_body({}, str(failed)))
        return JSONResponse(_execute_body(data, None))

    def _active_account(self, call: ExecuteCall, toolkit: str) -> _Account | None:
        # called with the lock held
        wanted = call.body.get("connected_account_id")
        for account in self._state.accounts.values():
            if account.status != "ACTIVE" or account.toolkit != toolkit:
                continue
            if wanted is not None:
                if account.id == wanted:
                    return account
            elif account.user_id == call.user_id:
                return account
        return None

    # --- accounts, auth configs, links

    def _accounts_list(self, request: Request) -> Response:
        query = request.query_params
        users = _csv(query.get("user_ids"))
        toolkits = _csv(query.get("toolkit_slugs"))
        statuses = _csv(query.get("statuses"))
        configs = _csv(query.get("auth_config_ids"))
        ids = _csv(query.get("connected_account_ids"))
        with self._lock:
            accounts = [
                a
                for a in self._state.accounts.values()
                if (not users or a.user_id in users)
                and (not toolkits or a.toolkit in toolkits)
                and (not statuses or a.status in statuses)
                and (not configs or a.auth_config_id in configs)
                and (not ids or a.id in ids)
            ]
            items = [_account_wire(a) for a in accounts]
        return JSONResponse(self._page(items, request))

    def _auth_configs(self, request: Request) -> Response:
        toolkit = request.query_params.get("toolkit_slug")
        with self._lock:
            counts = Counter(a.auth_config_id for a in self._state.accounts.values())
            items = [
                _auth_config_wire(config_id, slug, counts[config_id])
                for slug, config_id in self._state.auth_configs.items()
                if toolkit is None or slug == toolkit
            ]
        return JSONResponse(self._page(items, request))

    async def _link_create(self, request: Request) -> Response:
        body = await _json_body(request)
        config_id, user_id = body.get("auth_config_id"), body.get("user_id")
        if not isinstance(config_id, str) or not isinstance(user_id, str):
            raise _Refused(400, 1400, "Request_Invalid", "auth_config_id and user_id required")
        with self._lock:
            toolkit = next(
                (tk for tk, cid in self._state.auth_configs.items() if cid == config_id), None
            )
            if toolkit is None:
                raise _Refused(404, 1406, "AuthConfig_NotFound", f"No auth config {config_id}")
            token = self._next_id("lt")
            account = _Account(
                id=self._next_id("ca"),
                user_id=user_id,
                toolkit=toolkit,
                status="INITIATED",
                auth_config_id=config_id,
                link_token=token,
            )
            self._state.accounts[account.id] = account
        body_out = {
            "connected_account_id": account.id,
            "link_token": token,
            "redirect_url": f"{self.base_url}/link/{token}",
            "expires_at": "2026-12-01T00:10:00.000Z",
        }
        return JSONResponse(body_out, status_code=201)

    def _link_open(self, request: Request) -> Response:
        token = request.path_params["token"]
        with self._lock:
            account = next(
                (a for a in self._state.accounts.values() if a.link_token == token), None
            )
            if account is None or account.status != "INITIATED":
                return PlainTextResponse("This link is not valid any more.", status_code=404)
            account.status = "ACTIVE"
        return PlainTextResponse(f"Connected {account.toolkit} for {account.user_id}.")

    # --- paging

    def _page(self, items: list[dict[str, Any]], request: Request) -> dict[str, Any]:
        """One page of ``items`` after the request's cursor, Composio's page envelope."""
        query = request.query_params
        size = self.page_size
        limit = query.get("limit")
        if limit:
            try:
                size = max(1, min(size, int(float(limit))))
            except ValueError:
                raise _Refused(400, 1400, "Request_Invalid", f"bad limit {limit!r}") from None
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


# ---------------------------------------------------------------------- wire format


def _error(
    status: int,
    code: int,
    slug: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
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


def _execute_body(data: dict[str, Any], error: str | None) -> dict[str, Any]:
    return {
        "data": data,
        "error": error,
        "successful": error is None,
        "log_id": f"log_{uuid.uuid4().hex[:12]}",
        "session_info": None,
    }


def _toolkit_wire(toolkit: _Toolkit, tools_count: int) -> dict[str, Any]:
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
            "created_at": _STAMP,
            "updated_at": _STAMP,
            "tools_count": tools_count,
            "triggers_count": 0,
            "version": DEFAULT_VERSION,
        },
    }


def _tool_wire(tool: _Tool, toolkit_name: str) -> dict[str, Any]:
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


def _account_wire(account: _Account) -> dict[str, Any]:
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
        "updated_at": account.created_at,
    }


def _auth_config_wire(config_id: str, toolkit: str, connections: int) -> dict[str, Any]:
    return {
        "id": config_id,
        "uuid": str(uuid.uuid5(_ID_NAMESPACE, config_id)),
        "name": f"{toolkit} (Composio managed)",
        "type": "default",
        "status": "ENABLED",
        "auth_scheme": "OAUTH2",
        "is_composio_managed": True,
        "no_of_connections": connections,
        "created_at": _STAMP,
        "tool_access_config": {"tools_for_connected_account_creation": []},
        "toolkit": {"slug": toolkit, "logo": _LOGO.format(slug=toolkit)},
    }


# ---------------------------------------------------------------------- helpers


def _endpoints(names: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(names)
    unknown = chosen - ALL_ENDPOINTS
    if unknown:
        raise ValueError(f"unknown endpoints: {sorted(unknown)}; known: {sorted(ALL_ENDPOINTS)}")
    return chosen


def _csv(value: str | None) -> set[str]:
    return {part.strip() for part in (value or "").split(",") if part.strip()}


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
        raise _Refused(400, 1400, "Request_InvalidCursor", f"bad cursor {cursor!r}") from None


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise _Refused(400, 1400, "Request_Invalid", "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _Refused(400, 1400, "Request_Invalid", "body must be a JSON object")
    return body


@functools.lru_cache(maxsize=8)
def _demo_toolkits(
    toolkits: tuple[str, ...],
) -> tuple[tuple[ToolkitInfo, tuple[ToolSpec, ...]], ...]:
    """The demo catalog's ``toolkits``, each with its tools, in the order given."""
    if not toolkits:
        return ()
    # imported here: the catalog pulls in YAML and JSON-schema checks a bare double never needs
    from lucy.capability_index.catalog import load_catalog

    catalog = load_catalog()
    unknown = set(toolkits) - set(catalog.toolkits)
    if unknown:
        raise ValueError(f"not in the demo catalog: {sorted(unknown)}")
    return tuple(
        (catalog.toolkits[slug], tuple(t for t in catalog.tools if t.toolkit == slug))
        for slug in toolkits
    )
