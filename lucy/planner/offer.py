"""The tools offered to the model in one request: stage 1's candidates, stage 2's additions,
never more than a cap, only connected toolkits; plus the ``find_tools`` meta-tool."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal

from lucy.models import Candidate

Stage = Literal[1, 2]

FIND_TOOLS = "find_tools"
FIND_TOOLS_SCHEMA: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": FIND_TOOLS,
        "description": "Search for more tools when none of the offered tools fits the request. "
        "Describe the action in plain words, e.g. 'list open pull requests in GitHub'.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "minLength": 1}},
            "required": ["query"],
            "additionalProperties": False,
        },
    },
}
_MAX_DESCRIPTION = 1024


class Offer:
    def __init__(self, connected: Collection[str], cap: int) -> None:
        self.connected = frozenset(connected)
        self.cap = cap
        self.tools: dict[str, Candidate] = {}
        self.stage: dict[str, Stage] = {}

    def add(self, candidates: Sequence[Candidate], stage: Stage) -> list[Candidate]:
        """Offer the candidates not yet offered, of connected toolkits, up to the cap."""
        added = []
        for c in candidates:
            if len(self.tools) >= self.cap:
                break
            if c.slug in self.tools or c.toolkit not in self.connected:
                continue
            self.tools[c.slug] = c
            self.stage[c.slug] = stage
            added.append(c)
        return added

    def parameters(self, slug: str) -> set[str]:
        """Names of the tool's parameters (empty if it was never offered)."""
        tool = self.tools.get(slug)
        props = tool.parameters.get("properties", {}) if tool else {}
        return set(props) if isinstance(props, dict) else set()

    def schemas(self) -> list[dict[str, Any]]:
        """The OpenAI ``tools`` list: every offered tool, then ``find_tools``."""
        schemas = [
            {
                "type": "function",
                "function": {
                    "name": c.slug,
                    "description": c.description[:_MAX_DESCRIPTION],
                    "parameters": c.parameters,
                },
            }
            for c in self.tools.values()
        ]
        return [*schemas, FIND_TOOLS_SCHEMA]
