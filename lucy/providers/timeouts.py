"""How long one attempt may take: a default, overridden per provider, toolkit or tool."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from lucy.models import ToolSpec

Seconds = Annotated[float, Field(gt=0.0)]


class TimeoutPolicy(BaseModel):
    """Per-attempt timeouts. The most specific override wins: tool slug, toolkit, provider."""

    model_config = ConfigDict(frozen=True)

    default_seconds: Seconds = 10.0
    per_provider: dict[str, Seconds] = Field(default_factory=dict)
    per_toolkit: dict[str, Seconds] = Field(default_factory=dict)
    per_tool: dict[str, Seconds] = Field(default_factory=dict)

    def seconds_for(self, tool: ToolSpec, *, provider: str) -> float:
        """The configured timeout of one attempt of ``tool`` on ``provider``."""
        for table, key in (
            (self.per_tool, tool.slug),
            (self.per_toolkit, tool.toolkit),
            (self.per_provider, provider),
        ):
            if key in table:
                return table[key]
        return self.default_seconds

    def attempt_timeout(self, tool: ToolSpec, *, provider: str, remaining: float) -> float:
        """The configured timeout, cut to the time left before the deadline."""
        return max(0.0, min(self.seconds_for(tool, provider=provider), remaining))
