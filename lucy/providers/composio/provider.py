"""``ComposioProvider``: Composio as a tool source, a connection reader and a tool provider.

Composio user ids: a workspace's connections belong to the user id ``<workspace_id>``, one
person's own to ``<workspace_id>:<user_id>``. An execution runs as the person when they have an
ACTIVE account for the tool's toolkit (read through a short TTL cache), else as the workspace.
Every SDK call is blocking; the async methods run them in worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any

from lucy.errors import AuthenticationError, ConfigurationError
from lucy.models import SourceListing, ToolErrorKind, ToolkitInfo, ToolSpec
from lucy.providers.base import CallContext, ConnectionChange, ProviderCallError
from lucy.providers.composio.accounts import ConnectedAccounts
from lucy.providers.composio.client import build_sdk, read_all, untracked
from lucy.providers.composio.errors import error_from_exception, error_from_result
from lucy.providers.composio.mapping import (
    PROVIDER,
    composio_user_id,
    tool_spec,
    toolkit_id,
    toolkit_info,
)
from lucy.providers.composio.webhooks import connection_changes, owners_of

if TYPE_CHECKING:
    from composio import Composio
    from composio_client.types import ToolListResponse

    from lucy.settings import Settings

log = logging.getLogger(__name__)

_TOOLKITS_PER_REQUEST = 10  # toolkit slugs per tools listing (a comma-separated filter)


class ComposioProvider:
    """Lists Composio's tools, reads connections, and executes tools through the SDK.

    ``toolkits`` limits everything to those toolkit ids (``LUCY_COMPOSIO_TOOLKITS``); None =
    every toolkit the account lists. ``timeout_seconds`` bounds each HTTP request;
    ``page_size`` is the ``limit`` asked of every listing; ``account_ttl_seconds`` how long
    the execute path trusts a read of a person's connections. Building one imports the SDK
    (~4.6 s the first time) but makes no request. ``close`` releases its HTTP connections.
    """

    name = PROVIDER
    # Composio takes no idempotency key: its SDK never retries an execution because "the
    # backend does not deduplicate executions" (composio 0.30.0, HttpClient.without_retries).
    accepts_idempotency_key = False

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        toolkits: Iterable[str] | None = None,
        timeout_seconds: float = 10.0,
        page_size: int = 100,
        account_ttl_seconds: float = 30.0,
        webhook_secret: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.toolkits = None if toolkits is None else _toolkit_ids(toolkits)
        self._page_size = page_size
        self._sdk: Composio[Any, Any] = build_sdk(
            api_key, base_url=base_url, timeout_seconds=timeout_seconds
        )
        self._accounts = ConnectedAccounts(
            self._sdk, page_size=page_size, ttl_seconds=account_ttl_seconds, clock=clock
        )
        self._remote_toolkits: dict[str, str] = {}  # toolkit id -> Composio's slug, as listed
        self.webhook_secret = webhook_secret

    @classmethod
    def from_settings(cls, settings: Settings) -> ComposioProvider:
        """The provider ``LUCY_COMPOSIO_*`` configure; ``ConfigurationError`` without a key."""
        if settings.composio_api_key is None:
            raise ConfigurationError("LUCY_COMPOSIO_API_KEY is not set: Composio is off")
        return cls(
            settings.composio_api_key.get_secret_value(),
            base_url=settings.composio_base_url,
            toolkits=settings.composio_toolkits,
            timeout_seconds=settings.composio_timeout_seconds,
            webhook_secret=(
                settings.composio_webhook_secret.get_secret_value()
                if settings.composio_webhook_secret
                else None
            ),
        )

    def close(self) -> None:
        self._sdk.client.close()

    def __enter__(self) -> ComposioProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ ToolSource

    async def list_tools(self) -> SourceListing:
        """Every toolkit (limited to ``toolkits``) and its tools, all pages read. Raises
        ``ProviderCallError`` when Composio cannot be read."""
        return await asyncio.to_thread(self._list_tools)

    def _list_tools(self) -> SourceListing:
        try:
            toolkits = self._read_toolkits()
            tools = self._read_tools(toolkits)
        except Exception as exc:
            raise error_from_exception(exc) from exc
        return SourceListing(provider=PROVIDER, toolkits=tuple(toolkits), tools=tuple(tools))

    def _read_toolkits(self) -> list[ToolkitInfo]:
        items = read_all(
            lambda cursor: untracked(self._sdk.toolkits.list, cursor=cursor, limit=self._page_size),
            what="toolkits",
        )
        chosen: dict[str, ToolkitInfo] = {}
        for item in items:
            info = toolkit_info(item)
            if info is None or info.toolkit in chosen:
                log.warning("skipping Composio toolkit %r: no usable or unique id", item.slug)
                continue
            if self.toolkits is None or info.toolkit in self.toolkits:
                chosen[info.toolkit] = info
                self._remote_toolkits[info.toolkit] = item.slug
        if self.toolkits is not None and (absent := self.toolkits - chosen.keys()):
            log.warning("Composio does not list the configured toolkits %s", sorted(absent))
        return list(chosen.values())

    def _read_tools(self, toolkits: list[ToolkitInfo]) -> list[ToolSpec]:
        remote = [self._remote_toolkits[info.toolkit] for info in toolkits]
        wanted = {info.toolkit for info in toolkits}
        specs: dict[str, ToolSpec] = {}
        skipped = 0
        for start in range(0, len(remote), _TOOLKITS_PER_REQUEST):
            batch = ",".join(remote[start : start + _TOOLKITS_PER_REQUEST])
            items = read_all(partial(self._tools_page, batch), what="tools")
            for item in items:
                spec = tool_spec(item)
                if spec is None or spec.toolkit not in wanted or spec.slug in specs:
                    skipped += 1
                    continue
                specs[spec.slug] = spec
        if skipped:
            log.warning("skipped %d Composio tools (deprecated, unversioned or duplicate)", skipped)
        return list(specs.values())

    def _tools_page(self, toolkit_slugs: str, cursor: str | None) -> ToolListResponse:
        return untracked(
            self._sdk.client.tools.list,
            toolkit_slug=toolkit_slugs,
            limit=self._page_size,
            cursor=cursor if cursor is not None else _omit(),
        )

    # ------------------------------------------------------------------ ConnectionReader

    def connected_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]:
        """Toolkits with an ACTIVE account of the workspace, or of the person when
        ``user_id`` is given. Raises ``ProviderCallError`` when Composio cannot be read."""
        try:
            found = self._accounts.read(workspace_id)
            if user_id:
                found |= self._accounts.read(composio_user_id(workspace_id, user_id))
        except Exception as exc:
            raise error_from_exception(exc) from exc
        return found if self.toolkits is None else found & self.toolkits

    def own_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]:
        """Toolkits with an ACTIVE account of exactly the workspace (``user_id`` None) or of
        the person alone. Raises ``ProviderCallError`` when Composio cannot be read."""
        owner = workspace_id if user_id is None else composio_user_id(workspace_id, user_id)
        try:
            found = self._accounts.read(owner)
        except Exception as exc:
            raise error_from_exception(exc) from exc
        return found if self.toolkits is None else found & self.toolkits

    def connection_changes(self, body: bytes, headers: Mapping[str, str]) -> list[ConnectionChange]:
        """``WebhookSource``: Composio's connected-account webhooks (``webhooks.py``); without
        ``webhook_secret`` every webhook is refused."""
        if not self.webhook_secret:
            raise AuthenticationError("LUCY_COMPOSIO_WEBHOOK_SECRET is not set: no webhook holds")
        return connection_changes(self._sdk, self.webhook_secret, body, headers, self._account_user)

    def lapsed_owners(self, since: datetime | None) -> list[tuple[str, str | None]]:
        """``ConnectionSweeper``: the owners of accounts that lapsed at or after ``since``
        (every owner their Composio user id could name)."""
        try:
            lapsed = self._accounts.lapsed_since(since)
        except Exception as exc:
            raise error_from_exception(exc) from exc
        for _account, user in lapsed:
            self._accounts.forget(user)
        return list(dict.fromkeys(o for _account, user in lapsed for o in owners_of(user)))

    def _account_user(self, account_id: str) -> str | None:
        try:
            user = self._accounts.user_of(account_id)
        except Exception as exc:
            raise error_from_exception(exc) from exc
        if user is not None:
            self._accounts.forget(user)  # the execute path's short cache of it is stale too
        return user

    def connect_link(self, toolkit: str, workspace_id: str, user_id: str | None) -> str | None:
        """A Composio Connect link for ``toolkit``: for the person when ``user_id`` is given,
        else for the workspace. None when the toolkit has no enabled auth config in the
        project (none is created) or Composio fails; never raises."""
        try:
            config = self._auth_config_id(toolkit)
            if config is None:
                log.info("no enabled Composio auth config for %s: no connect link", toolkit)
                return None
            request = untracked(
                self._sdk.connected_accounts.link,
                composio_user_id(workspace_id, user_id),
                config,
                allow_multiple=True,
            )
        except Exception as exc:
            log.warning("no Composio connect link for %s: %s", toolkit, exc)
            return None
        return request.redirect_url or None

    def _auth_config_id(self, toolkit: str) -> str | None:
        """The newest enabled auth config of ``toolkit``, if any."""
        remote = (
            self._remote_toolkits.get(toolkit)
            or self._accounts.remote_slugs.get(toolkit)
            or toolkit
        )
        items = read_all(
            lambda cursor: untracked(
                self._sdk.client.auth_configs.list,
                toolkit_slug=remote,
                limit=self._page_size,
                cursor=cursor if cursor is not None else _omit(),
            ),
            what="auth configs",
        )
        enabled = [
            item
            for item in items
            if item.status == "ENABLED" and toolkit_id(item.toolkit.slug) == toolkit
        ]
        enabled.sort(key=lambda item: str(item.created_at or ""), reverse=True)
        return enabled[0].id if enabled else None

    # ------------------------------------------------------------------ ToolProvider

    def supports(self, tool: ToolSpec) -> bool:
        return tool.provider == PROVIDER

    async def execute(self, tool: ToolSpec, arguments: dict[str, Any], context: CallContext) -> Any:
        """One execution of ``tool`` at the version the index holds; its ``data``, or a
        ``ProviderCallError`` (``lucy.providers.composio.errors`` says which kind)."""
        return await asyncio.to_thread(self._execute, tool, arguments, context)

    def _execute(self, tool: ToolSpec, arguments: dict[str, Any], context: CallContext) -> Any:
        user = self._user_for(tool, context)
        try:
            result = untracked(
                self._sdk.tools.execute,
                tool.call_name,
                arguments,
                user_id=user,
                version=tool.version,
            )
        except Exception as exc:
            raise self._settled(error_from_exception(exc), tool, context, user) from exc
        if not result.get("successful"):
            raise self._settled(error_from_result(result), tool, context, user)
        return result.get("data")

    def _user_for(self, tool: ToolSpec, context: CallContext) -> str:
        """The person's Composio user id if they connected the tool's toolkit, else the
        workspace's."""
        if not context.user_id:
            return context.workspace_id
        person = composio_user_id(context.workspace_id, context.user_id)
        try:
            toolkits = self._accounts.cached(person)
        except Exception as exc:
            error = error_from_exception(exc)
            raise ProviderCallError(
                error.kind,
                f"reading the caller's Composio connections failed: {error}",
                status=error.status,
                retry_after=error.retry_after,
                sent=False,  # the execution was not sent
            ) from exc
        return person if tool.toolkit in toolkits else context.workspace_id

    def _settled(
        self, error: ProviderCallError, tool: ToolSpec, context: CallContext, user: str
    ) -> ProviderCallError:
        """``error``, with the toolkit and a connect link when a connection is missing."""
        if error.kind is not ToolErrorKind.CONNECTION_REQUIRED:
            return error
        self._accounts.forget(user)  # what we knew of its connections is wrong now
        details: dict[str, Any] = {"toolkit": tool.toolkit}
        link = self.connect_link(tool.toolkit, context.workspace_id, context.user_id)
        if link:
            details["connect_link"] = link
        return ProviderCallError(
            ToolErrorKind.CONNECTION_REQUIRED,
            f"{tool.toolkit} is not connected at Composio for {user} ({error})",
            status=error.status,
            details=details,
            sent=error.sent,
        )


def _toolkit_ids(toolkits: Iterable[str]) -> frozenset[str]:
    ids = frozenset(tid for t in toolkits if (tid := toolkit_id(t)) is not None)
    if not ids:
        raise ConfigurationError("LUCY_COMPOSIO_TOOLKITS names no valid toolkit")
    return ids


def _omit() -> Any:
    from composio_client import omit

    return omit
