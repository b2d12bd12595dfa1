"""``POST /v1/events/auth`` and ``POST /v1/events/sync``: what changed elsewhere, applied here.

An auth event (a connection added, removed or expired for a workspace, or one user in it)
drops that workspace's connection state from the cache here, in Redis and on every replica, so
the next retrieval asks the store and the provider again. A sync event (a toolkit's tools
changed) queues a refresh of that toolkit. Every event is signed (``signatures.py``) and
idempotent: an ``event_id`` seen before is acknowledged and not applied again.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Literal, Protocol, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lucy.api.signatures import SIGNATURE_HEADER, verify
from lucy.capability_index.service import CapabilityIndex
from lucy.errors import ConfigurationError, InvalidRequestError
from lucy.jobs.pending import Pending
from lucy.providers.configured import ProviderSet
from lucy.settings import Settings

router = APIRouter(tags=["events"])

EventId = Annotated[str, Field(min_length=1, max_length=200)]
Toolkit = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class AuthEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: EventId
    workspace_id: str
    user_id: str | None = None
    toolkit: Toolkit
    change: Literal["added", "removed", "expired"]


class SyncEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: EventId
    toolkit: Toolkit


class EventReceipt(BaseModel):
    event_id: str
    applied: bool = Field(description="False when this event id was applied before.")
    invalidated: list[str] = Field(default_factory=list, description="Workspaces forgotten.")
    refresh_queued: list[str] = Field(default_factory=list, description="Toolkits to refresh.")


class EventLedger(Protocol):
    """Which event ids were applied (``lucy.store.SeenEvents``, in the database)."""

    async def mark_seen(self, event_id: str, kind: str) -> bool:
        """True the first time ``event_id`` is seen, False after."""
        ...


async def _signed_body(request: Request) -> bytes:
    settings: Settings = request.app.state.settings
    if settings.events_secret is None:
        raise ConfigurationError(
            "events are off: set LUCY_EVENTS_SECRET (the shared secret senders sign with)"
        )
    body = await request.body()
    verify(
        settings.events_secret.get_secret_value().encode(),
        request.headers.get(SIGNATURE_HEADER),
        body,
        now=time.time(),
        tolerance=settings.events_tolerance_seconds,
    )
    return body


EventT = TypeVar("EventT", bound=BaseModel)


def _parse(model: type[EventT], body: bytes) -> EventT:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or None
        raise InvalidRequestError(f"{where}: {first['msg']}", field=where) from exc


@router.post("/v1/events/auth", response_model=EventReceipt)
async def auth_event(request: Request) -> EventReceipt:
    """A connection was added, removed or expired: forget the workspace's connection state
    everywhere. Body: ``AuthEvent``; header ``X-Lucy-Signature``."""
    event = _parse(AuthEvent, await _signed_body(request))
    index: CapabilityIndex = request.app.state.index
    ledger: EventLedger = request.app.state.event_ledger
    if not await ledger.mark_seen(event.event_id, "auth"):
        return EventReceipt(event_id=event.event_id, applied=False)
    await asyncio.to_thread(index.invalidate_connections, event.workspace_id, event.user_id)
    return EventReceipt(event_id=event.event_id, applied=True, invalidated=[event.workspace_id])


@router.post("/v1/events/sync", response_model=EventReceipt)
async def sync_event(request: Request) -> EventReceipt:
    """A toolkit's tools changed: queue a refresh of that toolkit. Body: ``SyncEvent``."""
    event = _parse(SyncEvent, await _signed_body(request))
    ledger: EventLedger = request.app.state.event_ledger
    if not await ledger.mark_seen(event.event_id, "sync"):
        return EventReceipt(event_id=event.event_id, applied=False)
    pending: Pending = request.app.state.pending_refreshes
    pending.add(event.toolkit)
    return EventReceipt(event_id=event.event_id, applied=True, refresh_queued=[event.toolkit])


@router.post("/v1/events/providers/{provider}", response_model=EventReceipt)
async def provider_webhook(provider: str, request: Request) -> EventReceipt:
    """A provider's own webhook (Composio's connected-account events, signed its way): each
    connection change it reports is applied as an auth event would be, once per event id."""
    providers: ProviderSet = request.app.state.providers
    source = providers.webhooks.get(provider)
    if source is None:
        raise InvalidRequestError(
            f"no provider {provider!r} takes webhooks here; configured: "
            f"{sorted(providers.webhooks) or 'none'}",
            field="provider",
        )
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    changes = await asyncio.to_thread(source.connection_changes, body, headers)
    if not changes:
        return EventReceipt(event_id=headers.get("webhook-id", ""), applied=False)
    event_id = f"{provider}:{changes[0].event_id}"[:255]
    ledger: EventLedger = request.app.state.event_ledger
    if not await ledger.mark_seen(event_id, "auth"):
        return EventReceipt(event_id=event_id, applied=False)
    index: CapabilityIndex = request.app.state.index
    owners = [(change.workspace_id, change.user_id) for change in changes]
    forgotten = await asyncio.to_thread(index.forget_owners, owners)
    workspaces = list(dict.fromkeys(workspace for workspace, _user in forgotten))
    return EventReceipt(event_id=event_id, applied=True, invalidated=workspaces)
