"""`ComposioDouble`: the Composio API double's face to tests, starting and stopping its
server, shaping what it serves, reading its counters, and switching faults on and off."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from lucy.testing.composio.app import build_app
from lucy.testing.composio.faults import Faults, Rule, check_endpoints, make_rule
from lucy.testing.composio.state import (
    ACCOUNT_STATUSES,
    DEFAULT_TOOLKITS,
    DEFAULT_VERSION,
    TOOLS_EXECUTE,
    VALIDATION_MESSAGE,
    Account,
    AccountStatus,
    ExecuteCall,
    ExecuteHandler,
    State,
    Tool,
    Toolkit,
    demo_toolkits,
    echo_handler,
)
from lucy.testing.loopback import LoopbackServer


class ComposioDouble:
    """A Composio API double: see `lucy.testing.composio` for endpoints, state and faults.

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
        self._state = State()
        self._lock = self._state.lock
        self._faults = Faults(random.Random(seed))
        self._stopping = threading.Event()
        self._runner: LoopbackServer | None = None
        self._port: int | None = None
        for info, specs in demo_toolkits(tuple(toolkits or ())):
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
            build_app(self, self._state, self._faults, self._stopping),
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
            self._state.toolkits[slug] = Toolkit(slug, name, description)
            if slug not in self._state.auth_configs:
                self._state.auth_configs[slug] = self._state.next_id("ac")

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
        tool = Tool(
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
            account = Account(
                id=self._state.next_id("ca"),
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
            account = self._state.accounts[account_id]
            account.status = status
            account.updated_at = datetime.now(UTC).isoformat(timespec="microseconds")

    def account_status(self, account_id: str) -> AccountStatus:
        with self._lock:
            return self._state.accounts[account_id].status

    def account_webhook(
        self,
        account_id: str,
        secret: str,
        *,
        event: str = "composio.connected_account.expired",
        timestamp: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of the V3 webhook Composio sends about an account (signed the
        Standard Webhooks way with ``secret``), to post to whoever subscribed."""
        with self._lock:
            account = self._state.accounts[account_id]
            message = self._state.next_id("msg")
            body = {
                "id": self._state.next_id("evt"),
                "type": event,
                "metadata": {"project_id": "pr_double", "org_id": "ok_double"},
                "data": {
                    "id": account.id,
                    "toolkit": {"slug": account.toolkit},
                    "auth_config": {"id": account.auth_config_id, "auth_scheme": "OAUTH2"},
                    "status": account.status,
                },
                "timestamp": "2026-12-02T00:00:00.000Z",
            }
        raw = json.dumps(body).encode()
        sent = str(int(time.time()) if timestamp is None else timestamp)
        digest = hmac.new(
            secret.encode(), f"{message}.{sent}.".encode() + raw, hashlib.sha256
        ).digest()
        headers = {
            "content-type": "application/json",
            "webhook-id": message,
            "webhook-timestamp": sent,
            "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        }
        return raw, headers

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
            return dict(self._faults.played)

    def reset_counts(self) -> None:
        """Zero the request and fault counters and forget the recorded executions."""
        with self._lock:
            self._state.counts.clear()
            self._faults.played.clear()
            self._state.executions.clear()

    # ------------------------------------------------------------------ faults

    def set_latency(self, seconds: float, *, endpoints: Iterable[str] = (TOOLS_EXECUTE,)) -> None:
        """Wait ``seconds`` before answering requests to ``endpoints`` (0 removes it)."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            for endpoint in check_endpoints(endpoints):
                self._faults.latency[endpoint] = seconds

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
        self._add_rule(make_rule("status", endpoints, count, rate, status, retry_after, text))

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
        rule = make_rule("tool_failure", (TOOLS_EXECUTE,), count, rate, 200, None, message)
        self._add_rule(rule)

    def malformed_json(
        self,
        *,
        count: int | None = None,
        rate: float | None = None,
        endpoints: Iterable[str] = (TOOLS_EXECUTE,),
    ) -> None:
        """Answer 200 with a truncated JSON body (``application/json``)."""
        self._add_rule(make_rule("malformed", endpoints, count, rate, 200, None, ""))

    def clear_faults(self) -> None:
        """Remove every fault rule and latency (state and counters stay)."""
        with self._lock:
            self._faults.clear()

    def _add_rule(self, rule: Rule) -> None:
        with self._lock:
            self._faults.rules.append(rule)
