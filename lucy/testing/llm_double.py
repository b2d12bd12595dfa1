"""A scripted OpenAI-compatible chat-completions server on loopback, for tests.

`ScriptedLLM` runs a real HTTP server (Starlette on uvicorn, in a background thread, on
127.0.0.1 with an OS-chosen port) that answers ``POST /v1/chat/completions`` with scripted
turns and records every request body, so code that talks to an LLM through the real
``openai`` client can be tested end to end::

    with ScriptedLLM([ToolCalls([Call("search", {"q": "x"})]), Text("done")]) as llm:
        client = openai.OpenAI(base_url=llm.base_url, api_key="test", max_retries=0)
        ...
        assert llm.offered_tools(0) == ["search"]

A script is either a sequence of turns, played one per request in order, or a callable that
receives each request body and returns the turn to play. Turns:

- `Text` - an assistant message with content (finish_reason "stop").
- `ToolCalls` - assistant tool calls; arguments may be a dict (JSON-encoded) or a raw string
  sent verbatim, so malformed JSON and unknown tool names can be scripted.
- `Empty` - content null and no tool calls.
- `Fail` - an HTTP error with an OpenAI-style error body (and optional Retry-After).
- `Slow` - wait (without blocking other requests), then play another turn.
- `Repeat` - shorthand in a sequence script for several copies of one turn.

Streaming is not supported: a request with ``"stream": true`` is answered with 400.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeAlias

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lucy.testing.loopback import LoopbackServer, sleep_unless

__all__ = [
    "Call",
    "Empty",
    "Fail",
    "Repeat",
    "ScriptedLLM",
    "Slow",
    "Text",
    "ToolCalls",
    "Turn",
]


# --------------------------------------------------------------------------- turns


@dataclass(frozen=True)
class Text:
    """An assistant message with `content` (which may be ""); finish_reason "stop"."""

    content: str


@dataclass(frozen=True)
class Call:
    """One tool call. A dict `arguments` is JSON-encoded; a str is sent verbatim.

    `id` defaults to a unique ``call_<n>`` chosen by the server.
    """

    name: str
    arguments: str | dict[str, Any]
    id: str | None = None


@dataclass(frozen=True)
class ToolCalls:
    """An assistant message carrying one or more tool calls; finish_reason "tool_calls"."""

    calls: Sequence[Call]
    content: str | None = None

    def __post_init__(self) -> None:
        calls = tuple(self.calls)
        if not calls:
            raise ValueError("ToolCalls needs at least one Call (use Empty() for none)")
        object.__setattr__(self, "calls", calls)


@dataclass(frozen=True)
class Empty:
    """An assistant message with content null and no tool calls; finish_reason "stop"."""


@dataclass(frozen=True)
class Fail:
    """An HTTP error `status` with an OpenAI-style error body.

    `retry_after` (seconds) is sent as a ``Retry-After`` header when given.
    """

    status: int
    message: str = "scripted failure"
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ValueError(f"Fail status must be an HTTP error (400-599), got {self.status}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("Fail retry_after must be >= 0")


@dataclass(frozen=True)
class Slow:
    """Wait `seconds` (asynchronously; other requests are still served), then play `then`."""

    seconds: float
    then: Turn

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise ValueError("Slow seconds must be >= 0")
        _check_playable(self.then)


@dataclass(frozen=True)
class Repeat:
    """`times` copies of `turn`; only valid as an element of a sequence script."""

    turn: Turn
    times: int

    def __post_init__(self) -> None:
        if self.times < 0:
            raise ValueError("Repeat times must be >= 0")


Turn: TypeAlias = "Text | ToolCalls | Empty | Fail | Slow | Repeat"
"""One scripted answer to one chat-completions request."""

Script: TypeAlias = Callable[[dict[str, Any]], Turn]
"""A dynamic script: given a request body, return the turn to play."""

_PLAYABLE = (Text, ToolCalls, Empty, Fail, Slow)


def _check_playable(turn: object) -> None:
    """Raise TypeError unless `turn` can answer a single request (i.e. it is not a Repeat)."""
    if not isinstance(turn, _PLAYABLE):
        raise TypeError(
            f"{turn!r} cannot answer a request; expected Text, ToolCalls, Empty, Fail or Slow"
            " (Repeat is only valid as an element of a sequence script)"
        )


def _expand(turns: Sequence[Turn]) -> list[Turn]:
    """Flatten a sequence script: each `Repeat` becomes `times` copies of its turn."""
    flat: list[Turn] = []
    for turn in turns:
        if isinstance(turn, Repeat):
            flat.extend(_expand([turn.turn] * turn.times))
        else:
            _check_playable(turn)
            flat.append(turn)
    return flat


# ------------------------------------------------------------------------ responses


def _error_kind(status: int) -> tuple[str, str | None]:
    """The OpenAI error `type` and `code` that usually accompany an HTTP `status`."""
    known: dict[int, tuple[str, str | None]] = {
        401: ("invalid_request_error", "invalid_api_key"),
        403: ("permission_error", None),
        404: ("invalid_request_error", "model_not_found"),
        429: ("requests", "rate_limit_exceeded"),
    }
    if status in known:
        return known[status]
    return ("server_error", None) if status >= 500 else ("invalid_request_error", None)


def _error_response(status: int, message: str, retry_after: float | None = None) -> Response:
    """An OpenAI-style error: ``{"error": {"message", "type", "code"}}`` with `status`."""
    kind, code = _error_kind(status)
    headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else None
    body = {"error": {"message": message, "type": kind, "code": code, "param": None}}
    return JSONResponse(body, status_code=status, headers=headers)


def _rough_tokens(value: object) -> int:
    """A rough token count: a quarter of the JSON length, at least 1."""
    return max(1, len(json.dumps(value)) // 4)


# --------------------------------------------------------------------------- server


class ScriptedLLM:
    """A real OpenAI-compatible HTTP server on loopback that plays scripted turns.

    Use it as a context manager (``with ScriptedLLM([...]) as llm:``) or call `start` and
    `stop`. Point the ``openai`` client at `base_url`. Every JSON object posted to
    ``/v1/chat/completions`` is appended to `requests`, in arrival order, whatever the answer.

    With a sequence script, each request takes the next turn; once the sequence is used up,
    requests are answered with `when_exhausted` if given, else HTTP 500 "script exhausted",
    and `exhausted` becomes true either way. With a callable script, the callable is called
    with each request body (on the server thread) and returns the turn to play; if it raises
    or returns a `Repeat`, the request is answered with HTTP 500 naming the problem.
    """

    def __init__(
        self,
        turns: Sequence[Turn] | Script,
        *,
        when_exhausted: Turn | None = None,
        model: str = "scripted-model",
    ) -> None:
        self._script: Script | None = None
        self._queue: list[Turn] = []
        if callable(turns):
            self._script = turns
        else:
            self._queue = _expand(turns)
        if when_exhausted is not None:
            _check_playable(when_exhausted)
        self._when_exhausted = when_exhausted
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._cursor = 0
        self._exhausted = False
        self._call_ids = itertools.count(1)
        self._completion_ids = itertools.count(1)
        self._stopping = threading.Event()
        self._runner: LoopbackServer | None = None
        self._base_url: str | None = None

    # ------------------------------------------------------------------ public API

    @property
    def base_url(self) -> str:
        """The URL to pass as the openai client's `base_url`, e.g. http://127.0.0.1:PORT/v1."""
        if self._base_url is None:
            raise RuntimeError("ScriptedLLM is not running; call start() or use `with`")
        return self._base_url

    @property
    def exhausted(self) -> bool:
        """Whether a request arrived after the sequence script was used up (at least once)."""
        return self._exhausted

    def offered_tools(self, i: int = -1) -> list[str]:
        """Names of the function tools offered in recorded request `i` (IndexError if none)."""
        with self._lock:
            body = self.requests[i]
        tools = body.get("tools") or []
        return [
            tool["function"]["name"]
            for tool in tools
            if isinstance(tool, dict)
            and tool.get("type") == "function"
            and isinstance(tool.get("function"), dict)
        ]

    def start(self) -> None:
        """Start serving on 127.0.0.1 (OS-chosen port); return once the socket is bound."""
        if self._runner is not None:
            raise RuntimeError("ScriptedLLM is already running")
        self._stopping.clear()
        runner = LoopbackServer(self._app(), lifespan="off", name="scripted-llm")
        runner.start()
        self._runner, self._base_url = runner, f"{runner.url}/v1"

    def stop(self) -> None:
        """Stop serving and join the server thread; pending `Slow` turns are cut short."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping.set()
        runner.stop()
        self._base_url = None

    def __enter__(self) -> ScriptedLLM:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals

    def _app(self) -> Starlette:
        """The ASGI app: chat completions and the model list."""
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat_completions, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    async def _models(self, request: Request) -> Response:
        """``GET /v1/models``: the one scripted model."""
        model = {"id": self.model, "object": "model", "created": 0, "owned_by": "lucy-testing"}
        return JSONResponse({"object": "list", "data": [model]})

    async def _chat_completions(self, request: Request) -> Response:
        """``POST /v1/chat/completions``: record the body, then play the next turn."""
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error_response(400, "request body is not valid JSON")
        if not isinstance(body, dict):
            return _error_response(400, "request body must be a JSON object")
        with self._lock:
            self.requests.append(body)
        if body.get("stream"):
            return _error_response(
                400, "stream=true is not supported by the scripted LLM double; use stream=false"
            )
        if not isinstance(body.get("messages"), list):
            return _error_response(400, "'messages' must be a list")
        try:
            turn = self._next_turn(body)
            if turn is not None:
                _check_playable(turn)
        except Exception as exc:
            return _error_response(500, f"scripted LLM: the script failed: {exc!r}")
        if turn is None:
            return _error_response(500, "script exhausted")
        return await self._play(turn, body)

    def _next_turn(self, body: dict[str, Any]) -> Turn | None:
        """The turn answering `body`, or None when the sequence is used up with no fallback."""
        if self._script is not None:
            return self._script(body)
        with self._lock:
            if self._cursor < len(self._queue):
                self._cursor += 1
                return self._queue[self._cursor - 1]
            self._exhausted = True
        return self._when_exhausted

    async def _play(self, turn: Turn, body: dict[str, Any]) -> Response:
        """Answer `body` with `turn` (a playable turn, never a Repeat)."""
        if isinstance(turn, Slow):
            await sleep_unless(self._stopping, turn.seconds)
            if self._stopping.is_set():
                return _error_response(503, "scripted LLM double is shutting down")
            return await self._play(turn.then, body)
        if isinstance(turn, Fail):
            return _error_response(turn.status, turn.message, turn.retry_after)
        if isinstance(turn, Text):
            return JSONResponse(self._completion(body, turn.content, None))
        if isinstance(turn, Empty):
            return JSONResponse(self._completion(body, None, None))
        if isinstance(turn, ToolCalls):
            return JSONResponse(self._completion(body, turn.content, turn.calls))
        return _error_response(500, f"scripted LLM: {turn!r} cannot answer a request")

    def _completion(
        self, body: dict[str, Any], content: str | None, calls: Sequence[Call] | None
    ) -> dict[str, Any]:
        """A ``chat.completion`` object answering `body` with `content` and tool `calls`."""
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = [self._tool_call(call) for call in calls]
        model = body.get("model")
        completion_tokens = _rough_tokens(message)
        prompt_tokens = _rough_tokens(body)
        return {
            "id": f"chatcmpl-scripted-{next(self._completion_ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model if isinstance(model, str) else self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if calls else "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _tool_call(self, call: Call) -> dict[str, Any]:
        """The wire form of one tool call; dict arguments are JSON-encoded, str verbatim."""
        arguments = call.arguments
        return {
            "id": call.id if call.id is not None else f"call_{next(self._call_ids)}",
            "type": "function",
            "function": {
                "name": call.name,
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
            },
        }
