"""Shipped test doubles: a scripted OpenAI-compatible server."""

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
