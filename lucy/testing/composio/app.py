"""The Composio double's Starlette app: the ``/api/v3.1`` routes and their handlers, each
wrapped to count the request, wait out any latency, check the API key, play any fault, and
answer a `Refused` with the error envelope."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from lucy.testing.composio.faults import Faults
from lucy.testing.composio.state import (
    AUTH_CONFIGS_LIST,
    CONNECTED_ACCOUNTS_LIST,
    LINK_CREATE,
    LINK_OPEN,
    NO_CONNECTED_ACCOUNT,
    TOOLKITS_LIST,
    TOOLS_EXECUTE,
    TOOLS_LIST,
    TOOLS_RETRIEVE,
    Account,
    ExecuteCall,
    ExecuteHandler,
    State,
    ToolFailed,
)
from lucy.testing.composio.wire import (
    Refused,
    account_wire,
    auth_config_wire,
    comma_list,
    error_response,
    execute_body,
    json_body,
    page,
    tool_wire,
    toolkit_wire,
)
from lucy.testing.loopback import sleep_unless

_API = "/api/v3.1"


class Host(Protocol):
    """What the app reads from its double on each request (tests may change these)."""

    api_key: str
    page_size: int
    execute_handler: ExecuteHandler

    @property
    def base_url(self) -> str: ...


def build_app(host: Host, state: State, faults: Faults, stopping: threading.Event) -> Starlette:
    """The app serving ``state`` with ``faults``; ``stopping`` cuts latency waits short."""
    return _Api(host, state, faults, stopping).app()


class _Api:
    def __init__(self, host: Host, state: State, faults: Faults, stopping: threading.Event) -> None:
        self._host = host
        self._state = state
        self._faults = faults
        self._lock = state.lock
        self._stopping = stopping

    def app(self) -> Starlette:
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
        """Wrap a handler: count, wait, check the key, play faults, map `Refused`."""

        async def endpoint(request: Request) -> Response:
            with self._lock:
                self._state.counts[name] += 1
                latency = self._faults.latency.get(name, 0.0)
            if latency:
                await sleep_unless(self._stopping, latency)
            if keyed and request.headers.get("x-api-key") != self._host.api_key:
                return error_response(401, 1401, "Auth_InvalidApiKey", "Invalid API key")
            with self._lock:
                fault = self._faults.pick(name)
            if fault is not None and fault.action == "status":
                headers = (
                    {"retry-after": f"{fault.retry_after:g}"}
                    if fault.retry_after is not None
                    else None
                )
                code = 1429 if fault.status == 429 else 1000 + fault.status
                return error_response(fault.status, code, "Double_Fault", fault.message, headers)
            if fault is not None and fault.action == "malformed":
                return Response('{"data": {"items": [', media_type="application/json")
            try:
                if fault is not None and fault.action == "tool_failure":
                    return JSONResponse(execute_body({}, fault.message))
                result = handler(request)
                if asyncio.iscoroutine(result):
                    result = await result
            except Refused as refused:
                return error_response(refused.status, refused.code, refused.slug, refused.message)
            assert isinstance(result, Response)
            return result

        return endpoint

    def _page(self, items: list[dict[str, Any]], request: Request) -> JSONResponse:
        return JSONResponse(page(items, request, self._host.page_size))

    # --- toolkits and tools

    def _toolkits_list(self, request: Request) -> Response:
        with self._lock:
            counts = Counter(t.toolkit for t in self._state.tools.values())
            items = [toolkit_wire(tk, counts[tk.slug]) for tk in self._state.toolkits.values()]
        return self._page(items, request)

    def _tools_list(self, request: Request) -> Response:
        query = request.query_params
        toolkits = comma_list(query.get("toolkit_slug"))
        slugs = {s.upper() for s in comma_list(query.get("tool_slugs"))}
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
        items = [tool_wire(t, names.get(t.toolkit, t.toolkit)) for t in chosen]
        return self._page(items, request)

    def _tools_retrieve(self, request: Request) -> Response:
        slug = request.path_params["slug"].upper()
        with self._lock:
            tool = self._state.tools.get(slug)
            name = self._state.toolkits[tool.toolkit].name if tool else ""
        if tool is None:
            raise Refused(404, 1404, "Tool_NotFound", f"Tool {slug} not found")
        return JSONResponse(tool_wire(tool, name))

    async def _tools_execute(self, request: Request) -> Response:
        slug = request.path_params["slug"].upper()
        body = await json_body(request)
        call = ExecuteCall(slug=slug, body=body)
        with self._lock:
            self._state.executions.append(call)
            tool = self._state.tools.get(slug)
            account = self._state.active_account(call, tool.toolkit) if tool else None
        if tool is None:
            raise Refused(404, 1404, "Tool_NotFound", f"Tool {slug} not found")
        version = call.version or "latest"
        if version != "latest" and version not in tool.available_versions:
            raise Refused(
                404,
                1405,
                "Tool_VersionNotFound",
                f"Version {version} of tool {slug} not found; available: "
                + ", ".join(tool.available_versions),
            )
        if account is None:
            raise Refused(
                400,
                NO_CONNECTED_ACCOUNT,
                "ConnectedAccount_NotFound",
                f"No connected account found for user {call.user_id} and toolkit {tool.toolkit}",
            )
        missing = sorted(set(tool.input_parameters.get("required") or []) - set(call.arguments))
        if missing:
            fields = ", ".join(repr(m) for m in missing)
            text = f"Invalid request data provided\n- Following fields are missing: {{{fields}}}"
            return JSONResponse(execute_body({}, text))
        try:
            data = self._host.execute_handler(call)
        except ToolFailed as failed:
            return JSONResponse(execute_body({}, str(failed)))
        return JSONResponse(execute_body(data, None))

    # --- accounts, auth configs, links

    def _accounts_list(self, request: Request) -> Response:
        query = request.query_params
        users = comma_list(query.get("user_ids"))
        toolkits = comma_list(query.get("toolkit_slugs"))
        statuses = comma_list(query.get("statuses"))
        configs = comma_list(query.get("auth_config_ids"))
        ids = comma_list(query.get("connected_account_ids"))
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
            order = query.get("order_by")
            if order in ("created_at", "updated_at"):
                accounts.sort(
                    key=lambda a: (getattr(a, order), a.id),
                    reverse=query.get("order_direction", "desc") == "desc",
                )
            items = [account_wire(a) for a in accounts]
        return self._page(items, request)

    def _auth_configs(self, request: Request) -> Response:
        toolkit = request.query_params.get("toolkit_slug")
        with self._lock:
            counts = Counter(a.auth_config_id for a in self._state.accounts.values())
            items = [
                auth_config_wire(config_id, slug, counts[config_id])
                for slug, config_id in self._state.auth_configs.items()
                if toolkit is None or slug == toolkit
            ]
        return self._page(items, request)

    async def _link_create(self, request: Request) -> Response:
        body = await json_body(request)
        config_id, user_id = body.get("auth_config_id"), body.get("user_id")
        if not isinstance(config_id, str) or not isinstance(user_id, str):
            raise Refused(400, 1400, "Request_Invalid", "auth_config_id and user_id required")
        with self._lock:
            toolkit = next(
                (tk for tk, cid in self._state.auth_configs.items() if cid == config_id), None
            )
            if toolkit is None:
                raise Refused(404, 1406, "AuthConfig_NotFound", f"No auth config {config_id}")
            token = self._state.next_id("lt")
            account = Account(
                id=self._state.next_id("ca"),
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
            "redirect_url": f"{self._host.base_url}/link/{token}",
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
