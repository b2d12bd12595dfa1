"""A client of a running Lucy server's HTTP API (``LUCY_URL``), for the ``lucy`` commands that
cannot open the embedded index while that server holds it. Each method asks what the same
method of ``CapabilityIndex`` answers locally; every failure is a ``ServerError``: the server's
own message for a 4xx/5xx, ``ServerUnreachableError`` when nothing (or no HTTP) answered."""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from lucy.errors import InvalidRequestError, ServerError, ServerUnreachableError
from lucy.models import RetrievalResult

_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class LucyServer:
    """``with LucyServer("http://127.0.0.1:8080") as server: server.retrieve(...)``."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=_TIMEOUT)

    def __enter__(self) -> LucyServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def live_version(self) -> str | None:
        """The version the server serves (``/readyz``); None while it has none yet."""
        response = self._send("GET", "/readyz")
        if response.status_code == httpx.codes.SERVICE_UNAVAILABLE:
            return None
        version = self._body(response).get("index_version")
        return str(version) if version else None

    def index_status(self) -> dict[str, Any]:
        """What ``CapabilityIndex.status()`` answers in the server (``GET /v1/index``)."""
        return self._json("GET", "/v1/index")

    def retrieve(
        self,
        query: str,
        *,
        workspace_id: str,
        user_id: str | None = None,
        k: int | None = None,
        toolkits: list[str] | None = None,
    ) -> RetrievalResult:
        body = {
            "query": query,
            "workspace_id": workspace_id,
            "user_id": user_id,
            "k": k,
            "toolkits": toolkits,
        }
        return RetrievalResult.model_validate(self._json("POST", "/v1/retrieve", json=body))

    def connected(self, workspace_id: str, user_id: str | None = None) -> list[str]:
        return _toolkits(self._json("GET", _connections(workspace_id), params=_user(user_id)))

    def connect(
        self, workspace_id: str, toolkits: list[str], user_id: str | None = None
    ) -> list[str]:
        body = {"toolkits": toolkits, "user_id": user_id}
        return _toolkits(self._json("POST", _connections(workspace_id), json=body))

    def disconnect(
        self, workspace_id: str, toolkits: list[str], user_id: str | None = None
    ) -> list[str]:
        """One ``DELETE`` a toolkit (the route takes one), in order; the last answer's set."""
        if not toolkits:
            raise InvalidRequestError("name at least one toolkit", field="toolkits")
        found: list[str] = []
        for toolkit in toolkits:
            path = f"{_connections(workspace_id)}/{quote(toolkit, safe='')}"
            found = _toolkits(self._json("DELETE", path, params=_user(user_id)))
        return found

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return self._body(self._send(method, path, **kwargs))

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # refused, timed out, not HTTP
            reason = _one_line(str(exc)) or type(exc).__name__
            raise ServerUnreachableError(
                f"no Lucy server answered at {self.url}: {reason}", url=self.url
            ) from exc

    def _body(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_error:
            message = _one_line(_error_message(body) or response.text[:200])
            raise ServerError(
                f"the Lucy server at {self.url} answered {response.status_code}: "
                f"{message or response.reason_phrase}",
                url=self.url,
                status=response.status_code,
            )
        if not isinstance(body, dict):
            raise ServerUnreachableError(
                f"{self.url}{response.request.url.path} did not answer with a JSON object: "
                "is LUCY_URL a Lucy server?",
                url=self.url,
            )
        return body


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _connections(workspace_id: str) -> str:
    return f"/v1/workspaces/{quote(workspace_id, safe='')}/connections"


def _user(user_id: str | None) -> dict[str, str]:
    return {} if user_id is None else {"user_id": user_id}


def _toolkits(body: dict[str, Any]) -> list[str]:
    return [str(t) for t in body.get("toolkits", [])]


def _error_message(body: object) -> str | None:
    """``{"error": {"message": ...}}`` (Lucy's errors) or ``{"detail": ...}`` (FastAPI's own,
    e.g. a route an older server lacks)."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    detail = body.get("detail")
    return None if detail is None else str(detail)
