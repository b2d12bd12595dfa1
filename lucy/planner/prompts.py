"""What Lucy says to the model: the system prompt, the notes she adds to the conversation,
and the messages built from a Slack thread."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from lucy.models import MissingConnection
from lucy.planner.llm import LLMTurn

SYSTEM_PROMPT = (
    "You are Lucy, an assistant in a Slack workspace. Use the offered tools to act and to look "
    "things up; answer only from what the tools returned, and say plainly when a tool failed or "
    "a list may be incomplete. If no offered tool fits, call find_tools. "
    "Now is {now} ({weekday}, UTC)."
)
FINALIZE_NOTE = (
    "[Lucy] Answer the user now, in words, from the tool results above. Do not call tools. "
    "Say plainly what failed or may be incomplete."
)
GATE_NOTE = (
    "[Lucy] Your answer said it was complete, but the results had more pages. I fetched the "
    "next page(s) above. Answer again from all the results."
)


def request_query(thread: Sequence[dict[str, str]]) -> str:
    """The text retrieval runs on: the last user message, with the one before it when the last
    is a short follow-up ("and next week?")."""
    users = [m["content"].strip() for m in thread if m["role"] == "user" and m["content"].strip()]
    if not users:
        return ""
    if len(users[-1].split()) < 4 and len(users) > 1:
        return f"{users[-2]} {users[-1]}"
    return users[-1]


def opening_messages(
    thread: Sequence[dict[str, str]],
    missing: Sequence[MissingConnection],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The system prompt (with the date and the toolkits that are not connected) and the
    thread's user and assistant turns."""
    now = now or datetime.now(UTC)
    system = SYSTEM_PROMPT.format(now=now.isoformat(timespec="minutes"), weekday=now.strftime("%A"))
    if missing:
        names = ", ".join(f"{m.name} ({m.toolkit})" for m in missing)
        system += (
            f" Not connected in this workspace: {names}. If the request needs one of them, say "
            "so instead of guessing."
        )
    history = [
        {"role": m["role"], "content": m["content"]}
        for m in thread
        if m["role"] in ("user", "assistant")
    ]
    return [{"role": "system", "content": system}, *history]


def assistant_message(turn: LLMTurn) -> dict[str, Any]:
    """The model's tool-calling turn, as it goes back into the conversation."""
    return {
        "role": "assistant",
        "content": turn.content,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in turn.tool_calls
        ],
    }
