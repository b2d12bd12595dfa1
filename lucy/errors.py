"""Lucy's exceptions. Every error the service raises is a ``LucyError``::

LucyError
├── ConfigurationError        a setting is missing or contradicts another
├── InvalidRequestError       the caller sent something we refuse (maps to 4xx)
│   └── UnknownToolError      no tool has that slug (404)
├── AuthenticationError       a signature or credential is missing or wrong (401)
├── CatalogError              a catalog file is malformed (names file and tool)
├── IndexNotReadyError        no live index version yet (503)
│   └── EmbedderMismatchError  the live index was embedded by another model or runtime
├── IndexBuildError           a build failed; the live version is untouched
├── IndexLockedError          another process (a running server) holds the embedded index
├── ServerError               the Lucy server (LUCY_URL) answered a CLI request with an error
│   └── ServerUnreachableError no Lucy server answered there (refused, timed out)
├── BackendUnavailableError   Qdrant, Redis or the database cannot be reached
│   └── LLMError              the LLM endpoint failed or timed out (the loop falls back)
└── LLMNotConfiguredError     /v1/respond without LUCY_LLM_* settings (503)
"""

from __future__ import annotations


class LucyError(Exception):
    """Root of every error Lucy raises on purpose."""


class ConfigurationError(LucyError):
    """A setting is missing, malformed, or contradicts another."""


class InvalidRequestError(LucyError):
    """The caller asked for something we refuse; ``field`` names the offending input."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownToolError(InvalidRequestError):
    """No tool in the live index has this slug."""

    def __init__(self, slug: str) -> None:
        super().__init__(f"no tool with slug {slug!r}", field="slug")
        self.slug = slug


class AuthenticationError(LucyError):
    """The request's signature or credentials are missing, wrong or too old."""


class CatalogError(LucyError):
    """A catalog file cannot be read; the message names the file and the tool."""

    def __init__(self, message: str, *, source: str, slug: str | None = None) -> None:
        where = f"{source}: {slug}: " if slug else f"{source}: "
        super().__init__(where + message)
        self.source = source
        self.slug = slug


class IndexNotReadyError(LucyError):
    """There is no live index version yet: run ``lucy index build``."""


class IndexBuildError(LucyError):
    """A build did not complete; the live version was not changed."""


class EmbedderMismatchError(IndexNotReadyError):
    """The live index's vectors were made by another model or runtime than the one this
    process embeds queries with: searching it would compare unlike vectors."""


class IndexLockedError(LucyError):
    """The embedded index's folder is locked by another process, e.g. a running ``lucy serve``
    (qdrant-edge lets one process open a shard)."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"the embedded index at {path} is locked by another process (a running `lucy serve`?)"
        )
        self.path = path


class ServerError(LucyError):
    """The Lucy server the CLI asked (``LUCY_URL``) answered with an error; the message is the
    server's own."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class ServerUnreachableError(ServerError):
    """No Lucy server answered at ``LUCY_URL``: connection refused, timed out, not HTTP."""


class BackendUnavailableError(LucyError):
    """A backend (Qdrant server, Redis) cannot be reached."""

    def __init__(self, message: str, *, backend: str) -> None:
        super().__init__(message)
        self.backend = backend


class LLMError(BackendUnavailableError):
    """The LLM endpoint answered with an error, timed out, or could not be reached."""

    def __init__(self, message: str) -> None:
        super().__init__(message, backend="llm")


class LLMNotConfiguredError(LucyError):
    """``/v1/respond`` needs an LLM: set ``LUCY_LLM_BASE_URL`` and ``LUCY_LLM_MODEL``."""
