"""Workspace and user ids as Lucy accepts them everywhere, and the ``demo`` workspace's name."""

from __future__ import annotations

import re

from lucy.errors import InvalidRequestError

DEMO_WORKSPACE = "demo"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def check_id(value: str, field: str) -> str:
    """``value`` if it is a valid workspace or user id, else ``InvalidRequestError(field)``."""
    if not _ID.match(value):
        raise InvalidRequestError(
            f"{field} must be 1-64 characters of letters, digits, '_', '.', ':' or '-', "
            f"starting with a letter or digit; got {value[:80]!r}",
            field=field,
        )
    return value
