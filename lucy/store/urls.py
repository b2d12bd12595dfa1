"""From the URL an operator writes (``LUCY_DATABASE_URL``) to the async driver URL Lucy uses.

Operators write plain ``sqlite:///path`` or ``postgresql://user@host:port/db``; which driver
talks to the database is Lucy's business, so the plain forms map to ``sqlite+aiosqlite`` and
``postgresql+asyncpg``. Anything else is refused with a ``ConfigurationError`` naming the setting.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from lucy.errors import ConfigurationError

SETTING = "LUCY_DATABASE_URL"
_EXPECTED = "expected sqlite:///path/to/lucy.db or postgresql://user@host:port/database"

# scheme as written -> the async driver Lucy uses for it
_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def database_url(url: str | None, data_dir: Path) -> str:
    """The database URL as configured: ``url`` if set, else a SQLite file ``data_dir/lucy.db``."""
    if url and url.strip():
        return url.strip()
    return f"sqlite:///{(data_dir / 'lucy.db').absolute()}"


def async_url(url: str) -> URL:
    """The SQLAlchemy URL with Lucy's async driver for ``url`` (see the module docstring).

    Raises ``ConfigurationError`` for a malformed URL, an unsupported database or driver, or
    an in-memory SQLite database (each connection would see a different, empty database)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        # the text may hold a password: name the setting, not the value
        raise ConfigurationError(f"{SETTING} is not a database URL ({_EXPECTED})") from exc
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ConfigurationError(
            f"{SETTING}: unsupported database {parsed.drivername!r} ({_EXPECTED}; "
            "Lucy picks the driver itself)"
        )
    if driver.startswith("sqlite") and (
        not parsed.database or parsed.database == ":memory:" or parsed.host
    ):
        raise ConfigurationError(
            f"{SETTING}: a SQLite database must be a file path, "
            "e.g. sqlite:///.lucy/lucy.db or sqlite:////var/lib/lucy/lucy.db"
        )
    return parsed.set(drivername=driver)


def redacted(url: URL) -> str:
    """``url`` fit for logs and error messages: the password hidden."""
    return url.render_as_string(hide_password=True)
