"""Which toolkits each workspace (and user) has connected, in the database.

Same rules as the JSON store it replaces: a workspace with no record has nothing connected,
except ``demo``, which starts with every demo toolkit until its first change creates its
record; a user sees the workspace's toolkits plus their own. Every change is one transaction of
row inserts and deletes, so concurrent writers never lose each other's updates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from lucy.errors import ConfigurationError, InvalidRequestError
from lucy.store.engine import StoreEngine
from lucy.store.ids import DEMO_WORKSPACE, check_id
from lucy.store.schema import WORKSPACE_WIDE, Connection, Workspace

_MAX_TOOLKIT = 128  # the column's length


class ConnectionRecords:
    """Connected toolkits per workspace and user (``Database.connections``)."""

    def __init__(self, engine: StoreEngine, *, demo_toolkits: Iterable[str] = ()) -> None:
        self._engine = engine
        self._demo = frozenset(demo_toolkits)

    async def toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        """Toolkits usable by ``user`` in ``workspace``: the workspace's plus the user's own."""
        check_id(workspace, "workspace_id")
        subjects = [WORKSPACE_WIDE] if user is None else [WORKSPACE_WIDE, check_id(user, "user_id")]
        return await self._read(workspace, subjects, demo=True)

    async def own_toolkits(self, workspace: str, user: str | None = None) -> frozenset[str]:
        """The toolkits connected for exactly this owner: the workspace (``user`` None), or
        the user alone (without the workspace's)."""
        subject = self._subject(workspace, user)
        return await self._read(workspace, [subject], demo=user is None)

    async def _read(self, workspace: str, subjects: list[str], *, demo: bool) -> frozenset[str]:
        # one statement, so the record's existence and its toolkits are read from one snapshot
        stmt = (
            select(Workspace.workspace_id, Connection.toolkit)
            .outerjoin(
                Connection,
                (Connection.workspace_id == Workspace.workspace_id)
                & Connection.user_id.in_(subjects),
            )
            .where(Workspace.workspace_id == workspace)
        )
        async with self._engine.read("read connections") as conn:
            rows = (await conn.execute(stmt)).all()
        if not rows:  # no record: nothing, but the demo workspace's starting toolkits
            return self._demo if demo and workspace == DEMO_WORKSPACE else frozenset()
        return frozenset(toolkit for _, toolkit in rows if toolkit is not None)

    async def connect(
        self, workspace: str, toolkits: Iterable[str], user: str | None = None
    ) -> None:
        """Connect ``toolkits`` for the workspace, or for ``user`` only."""
        names = _toolkit_names(toolkits)
        subject = self._subject(workspace, user)
        async with self._engine.write("connect toolkits") as conn:
            now = datetime.now(UTC)
            await self._ensure_workspace(conn, workspace, now)
            await self._add(conn, workspace, subject, names, now)

    async def disconnect(
        self, workspace: str, toolkits: Iterable[str], user: str | None = None
    ) -> None:
        """Disconnect ``toolkits`` from the workspace, or from ``user``'s own connections."""
        names = _toolkit_names(toolkits)
        subject = self._subject(workspace, user)
        async with self._engine.write("disconnect toolkits") as conn:
            await self._ensure_workspace(conn, workspace, datetime.now(UTC))
            if names:
                await conn.execute(
                    delete(Connection).where(
                        Connection.workspace_id == workspace,
                        Connection.user_id == subject,
                        Connection.toolkit.in_(sorted(names)),
                    )
                )

    async def import_json(self, path: Path) -> int:
        """Load the JSON store's ``connections.json`` (``{workspace: {"toolkits": [...],
        "users": {user: [...]}}}``): each workspace the database has no record of yet is added
        as it is in the file, so importing again (at every start) changes nothing. Returns how
        many workspaces were added; a missing file adds none; a malformed one raises
        ``ConfigurationError``."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigurationError(f"{path}: not a connections file ({exc})") from exc
        records = _parse_records(path, data)
        added = 0
        async with self._engine.write("import connections") as conn:
            now = datetime.now(UTC)
            for workspace, subjects in records.items():
                if not await self._create_workspace(conn, workspace, now):
                    continue
                added += 1
                for subject, names in subjects.items():
                    await self._add(conn, workspace, subject, names, now)
        return added

    def _subject(self, workspace: str, user: str | None) -> str:
        check_id(workspace, "workspace_id")
        return WORKSPACE_WIDE if user is None else check_id(user, "user_id")

    async def _ensure_workspace(self, conn: AsyncConnection, workspace: str, now: datetime) -> None:
        """Create the record on first change; ``demo`` starts it with the demo toolkits."""
        created = await self._create_workspace(conn, workspace, now)
        if created and workspace == DEMO_WORKSPACE:
            await self._add(conn, workspace, WORKSPACE_WIDE, self._demo, now)

    async def _create_workspace(self, conn: AsyncConnection, workspace: str, now: datetime) -> bool:
        stmt = (
            self._engine.insert(Workspace)
            .values(workspace_id=workspace, created_at=now)
            .on_conflict_do_nothing(index_elements=["workspace_id"])
        )
        return (await conn.execute(stmt)).rowcount == 1

    async def _add(
        self,
        conn: AsyncConnection,
        workspace: str,
        subject: str,
        names: Iterable[str],
        now: datetime,
    ) -> None:
        rows = [
            {"workspace_id": workspace, "user_id": subject, "toolkit": name, "connected_at": now}
            for name in sorted(names)
        ]
        if rows:
            stmt = self._engine.insert(Connection).on_conflict_do_nothing(
                index_elements=["workspace_id", "user_id", "toolkit"]
            )
            await conn.execute(stmt, rows)


def _toolkit_names(toolkits: Iterable[str]) -> frozenset[str]:
    names = frozenset(toolkits)
    for name in names:
        if not name or len(name) > _MAX_TOOLKIT:
            raise InvalidRequestError(
                f"a toolkit name must be 1-{_MAX_TOOLKIT} characters; got {name[:80]!r}",
                field="toolkits",
            )
    return names


def _name_list(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"expected a list of toolkit names, got {value!r:.80}")
    return _toolkit_names(value)


def _parse_records(path: Path, data: Any) -> dict[str, dict[str, frozenset[str]]]:
    """``{workspace: {subject: toolkits}}`` from the JSON store's layout, checked."""
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{path}: expected a JSON object of workspaces")
    records: dict[str, dict[str, frozenset[str]]] = {}
    try:
        for workspace, record in data.items():
            check_id(workspace, "workspace_id")
            subjects = {WORKSPACE_WIDE: _name_list(record.get("toolkits", []))}
            for user, names in record.get("users", {}).items():
                subjects[check_id(user, "user_id")] = _name_list(names)
            records[workspace] = subjects
    except (AttributeError, TypeError, InvalidRequestError) as exc:
        raise ConfigurationError(f"{path}: not a connections file ({exc})") from exc
    return records
