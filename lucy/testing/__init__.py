"""Shipped test doubles: a scripted OpenAI-compatible server, a Composio API double, and a
loopback server runner for any ASGI app."""

from lucy.testing.composio_double import ComposioDouble, ExecuteCall, ToolFailed
from lucy.testing.llm_double import (
    Call,
    Empty,
    Fail,
    Repeat,
    ScriptedLLM,
    Slow,
    Text,
    ToolCalls,
    Turn,
)
from lucy.testing.loopback import LoopbackServer

__all__ = [
    "Call",
    "ComposioDouble",
    "Empty",
    "ExecuteCall",
    "Fail",
    "LoopbackServer",
    "Repeat",
    "ScriptedLLM",
    "Slow",
    "Text",
    "ToolCalls",
    "ToolFailed",
    "Turn",
]
