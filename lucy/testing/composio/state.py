"""What the Composio double serves and what it recorded: endpoint names, toolkits, tools,
connected accounts, auth configs, request counters, execute calls, and id generation.

Plain data: `State` carries the lock that guards it (and the double's `Faults`); whoever
reads or changes it holds that lock.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from lucy.models import ToolkitInfo, ToolSpec

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

STAMP = "2026-12-01T00:00:00.000Z"


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
class Toolkit:
    slug: str
    name: str
    description: str


@dataclass
class Tool:
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
class Account:
    id: str
    user_id: str
    toolkit: str
    status: AccountStatus
    auth_config_id: str
    created_at: str = STAMP
    updated_at: str = STAMP
    link_token: str | None = None


@dataclass
class State:
    """Everything the double serves and counts, and the lock that guards it."""

    toolkits: dict[str, Toolkit] = field(default_factory=dict)
    tools: dict[str, Tool] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    auth_configs: dict[str, str] = field(default_factory=dict)  # toolkit -> auth config id
    counts: Counter[str] = field(default_factory=Counter)
    executions: list[ExecuteCall] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _ids: int = field(default=0, init=False, repr=False)

    def next_id(self, prefix: str) -> str:
        """A new id such as ``ca_dbl0000003`` (called with the lock held)."""
        self._ids += 1
        return f"{prefix}_dbl{self._ids:07d}"

    def active_account(self, call: ExecuteCall, toolkit: str) -> Account | None:
        """The ACTIVE account of ``toolkit`` an execute call runs as: the one it names by
        ``connected_account_id``, else its user's (called with the lock held)."""
        wanted = call.body.get("connected_account_id")
        for account in self.accounts.values():
            if account.status != "ACTIVE" or account.toolkit != toolkit:
                continue
            if wanted is not None:
                if account.id == wanted:
                    return account
            elif account.user_id == call.user_id:
                return account
        return None


@functools.lru_cache(maxsize=8)
def demo_toolkits(
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
