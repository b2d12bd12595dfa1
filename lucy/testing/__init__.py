"""Shipped test doubles: a scripted OpenAI-compatible server, a Composio API double, a
loopback server runner for any ASGI app, and a redis-server of one's own to stop and pause."""

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
from lucy.testing.redis_server import OwnRedis

__all__ = [
    "Call",
    "ComposioDouble",
    "Empty",
    "ExecuteCall",
    "Fail",
    "LoopbackServer",
    "OwnRedis",
    "Repeat",
    "ScriptedLLM",
    "Slow",
    "Text",
    "ToolCalls",
    "ToolFailed",
    "Turn",
]
