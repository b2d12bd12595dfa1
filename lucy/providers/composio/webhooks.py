"""Composio's connected-account webhooks as connection changes (``WebhookSource``).

Composio signs each webhook the Standard Webhooks way (``webhook-id``, ``webhook-timestamp``,
``webhook-signature`` headers); the SDK's ``triggers.verify_webhook`` checks it, with a
5-minute window. A V3 ``composio.connected_account.*`` event (``...expired``) names the
account, not its user: the account's user id is read from Composio, and every owner that user
id can name is reported (``T1:U1`` is user ``U1`` of ``T1``, or a workspace called ``T1:U1``).
Other events (trigger messages) are not about connections: none is reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lucy.errors import AuthenticationError, InvalidRequestError
from lucy.providers.base import ConnectionChange
from lucy.providers.composio.mapping import toolkit_id

if TYPE_CHECKING:
    from composio import Composio

ACCOUNT_EVENT = "composio.connected_account."
TOLERANCE_SECONDS = 300


def owners_of(composio_user: str) -> list[tuple[str, str | None]]:
    """Every (workspace, user) ``composio_user_id`` could have made ``composio_user`` from."""
    owners: list[tuple[str, str | None]] = [(composio_user, None)]
    workspace, sep, user = composio_user.rpartition(":")
    if sep and workspace and user:
        owners.append((workspace, user))
    return owners


def connection_changes(
    sdk: Composio[Any, Any],
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    user_of: Callable[[str], str | None],
) -> list[ConnectionChange]:
    """See the module's docstring. ``user_of`` reads an account's Composio user id."""
    from composio.exceptions import WebhookPayloadError, WebhookSignatureVerificationError

    try:
        text = body.decode("utf-8")
        sdk.triggers.verify_webhook(
            id=headers.get("webhook-id", ""),
            payload=text,
            signature=headers.get("webhook-signature", ""),
            timestamp=headers.get("webhook-timestamp", ""),
            secret=secret,
            tolerance=TOLERANCE_SECONDS,
        )
    except (WebhookSignatureVerificationError, UnicodeDecodeError) as exc:
        raise AuthenticationError(f"the Composio webhook signature does not hold: {exc}") from exc
    except WebhookPayloadError as exc:
        raise InvalidRequestError(f"not a Composio webhook: {exc}") from exc
    event = json.loads(text)
    kind = str(event.get("type", "")) if isinstance(event, dict) else ""
    if not kind.startswith(ACCOUNT_EVENT):
        return []
    data = _mapping(event.get("data"))
    account = str(data.get("id") or "")
    if not account:
        raise InvalidRequestError("the Composio account event names no account (data.id)")
    toolkit = _mapping(data.get("toolkit"))
    user = user_of(account)
    if user is None:
        return []  # an account Composio no longer lists: nothing cached can name it
    return [
        ConnectionChange(
            event_id=str(event.get("id") or headers.get("webhook-id", "")),
            workspace_id=workspace,
            user_id=person,
            toolkit=toolkit_id(str(toolkit.get("slug") or "")),
            change=kind.removeprefix(ACCOUNT_EVENT),
        )
        for workspace, person in owners_of(user)
    ]


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
