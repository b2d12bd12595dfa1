"""The shared vocabulary: tools, their intent tags, and what retrieval returns."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# uuid5 namespace for point ids: uuid5(NAMESPACE, f"{provider}:{slug}").
POINT_NAMESPACE = uuid.UUID("6f1c0d52-3c1e-5b8e-9a57-4c7b8f0e2d11")


def point_id(provider: str, slug: str) -> str:
    """The Qdrant point id of a tool: stable across builds, so upserts are idempotent."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{provider}:{slug}"))


class IntentTags(BaseModel):
    """What a tool does, in a small controlled vocabulary used for ranking."""

    model_config = ConfigDict(frozen=True)

    verbs: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()
    domain: str = "general"


class ToolSpec(BaseModel):
    """One tool as the catalog describes it."""

    model_config = ConfigDict(frozen=True)

    slug: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    toolkit: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    provider: str = "demo"
    name: str
    description: str
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    scopes: tuple[str, ...] = ()
    tags: IntentTags = IntentTags()
    read_only: bool = False
    destructive: bool = False
    version: str = "1"

    @property
    def point_id(self) -> str:
        return point_id(self.provider, self.slug)

    @property
    def content_hash(self) -> str:
        """Hash of everything that shapes the embedded document and the payload."""
        body = self.model_dump(mode="json")
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


class Candidate(BaseModel):
    """A tool retrieved for a request, with its score and why it ranked."""

    slug: str
    toolkit: str
    name: str
    description: str
    parameters: dict[str, Any]
    score: float
    tags: IntentTags
    read_only: bool
    destructive: bool
    matched_intent: str | None = Field(
        None, description="The part of a multi-intent request this candidate was retrieved for."
    )


class MissingConnection(BaseModel):
    """A toolkit that fits the request strongly but is not connected for this caller."""

    toolkit: str
    name: str
    score: float
    example_tools: list[str]
    reason: str


class RetrievalTimings(BaseModel):
    embed_ms: float = 0.0
    search_ms: float = 0.0
    rescore_ms: float = 0.0
    total_ms: float = 0.0


class RetrievalResult(BaseModel):
    candidates: list[Candidate]
    missing_connections: list[MissingConnection]
    index_version: str
    intents: list[str]
    timings: RetrievalTimings
