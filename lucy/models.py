"""The shared vocabulary: tools and their tags, what retrieval returns, tool calls, results and
error kinds, and the trace record the planner logs."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
    remote_name: str | None = Field(
        None,
        description="The tool's own name at its provider when the slug is not it (an MCP "
        "tool's name); None = the slug.",
    )

    @property
    def point_id(self) -> str:
        return point_id(self.provider, self.slug)

    @property
    def call_name(self) -> str:
        """The name the provider knows the tool by."""
        return self.remote_name or self.slug

    @property
    def content_hash(self) -> str:
        """Hash of everything that shapes the embedded document and the payload."""
        # a field at its None default is left out, so adding one keeps older hashes valid
        body = self.model_dump(
            mode="json", exclude={"remote_name"} if not self.remote_name else None
        )
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


class ToolkitInfo(BaseModel):
    """A toolkit as a tool source lists it."""

    model_config = ConfigDict(frozen=True)

    toolkit: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    description: str = ""


class SourceListing(BaseModel):
    """What one tool source offers: its toolkits and their tools. Tools come with empty intent
    tags; the index derives them."""

    model_config = ConfigDict(frozen=True)

    provider: str
    toolkits: tuple[ToolkitInfo, ...]
    tools: tuple[ToolSpec, ...]


class Candidate(BaseModel):
    """A tool retrieved for a request, with its score and why it ranked."""

    slug: str
    toolkit: str
    name: str
    description: str
    parameters: dict[str, Any]
    score: float
    similarity: float = Field(
        0.0,
        description="Dense cosine between the request (or its part) as written, without the "
        "query template, and the tool; 0.0 when only BM25 found the tool.",
    )
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


class ToolErrorKind(StrEnum):
    """Every way a tool call can fail, as the model, the trace and the user see it."""

    UNKNOWN_TOOL = "unknown_tool"
    PARSE_ERROR = "parse_error"
    INVALID_ARGUMENTS = "invalid_arguments"
    CONNECTION_REQUIRED = "connection_required"
    AUTH = "auth"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_ERROR = "provider_error"
    EXECUTION_ERROR = "execution_error"
    LOOP_DETECTED = "loop_detected"
    BUDGET_EXHAUSTED = "budget_exhausted"

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed if made again later (by the retry policy)."""
        return self in _RETRYABLE

    @property
    def user_message(self) -> str:
        """A sentence for the person in Slack: what went wrong, in their terms."""
        return _USER_MESSAGES[self]


_RETRYABLE = frozenset(
    {ToolErrorKind.TIMEOUT, ToolErrorKind.RATE_LIMITED, ToolErrorKind.PROVIDER_UNAVAILABLE}
)

_USER_MESSAGES: dict[ToolErrorKind, str] = {
    ToolErrorKind.UNKNOWN_TOOL: "I tried to use a tool that does not exist here.",
    ToolErrorKind.PARSE_ERROR: "I produced a tool request that could not be read.",
    ToolErrorKind.INVALID_ARGUMENTS: "I gave a tool arguments it does not accept.",
    ToolErrorKind.CONNECTION_REQUIRED: "That needs an app this workspace has not connected.",
    ToolErrorKind.AUTH: "The app's credentials were refused; it may need to be reconnected.",
    ToolErrorKind.TIMEOUT: "A tool took too long to answer.",
    ToolErrorKind.RATE_LIMITED: "A service asked me to slow down (rate limited).",
    ToolErrorKind.PROVIDER_UNAVAILABLE: "A service could not be reached just now.",
    ToolErrorKind.PROVIDER_ERROR: "A service refused the request.",
    ToolErrorKind.EXECUTION_ERROR: "A tool failed while running.",
    ToolErrorKind.LOOP_DETECTED: "I was repeating the same step, so I stopped.",
    ToolErrorKind.BUDGET_EXHAUSTED: "I ran out of time or steps for this request.",
}


class ToolError(BaseModel):
    """A structured tool failure: goes back to the model as the tool result, and into the trace."""

    kind: ToolErrorKind
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    retry_after: float | None = Field(None, description="Seconds the provider asked us to wait.")

    @property
    def retryable(self) -> bool:
        return self.kind.retryable

    def for_model(self) -> dict[str, Any]:
        """The JSON the model receives in place of a result."""
        body: dict[str, Any] = {"error": self.kind.value, "message": self.message}
        body.update(self.details)
        return body


class ToolCall(BaseModel):
    """One call the model asked for. ``arguments`` is the raw JSON text the model produced."""

    id: str
    name: str
    arguments: str


class ToolResult(BaseModel):
    """What executing (or refusing) one call produced: data or an error, never both."""

    call_id: str
    slug: str
    provider: str | None = Field(None, description="The provider that ran it; None if none did.")
    data: Any = None
    error: ToolError | None = None
    attempts: int = 0
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def outcome_unknown(self) -> bool:
        """A write that failed after its request may have reached the provider."""
        return self.error is not None and bool(self.error.details.get("outcome_unknown"))


TRACE_VERSION = 1


class TraceToolCall(BaseModel):
    """One tool call the planner made while answering."""

    model_config = ConfigDict(extra="ignore")

    slug: str
    provider: str | None = None
    ok: bool
    error_kind: str | None = None
    stage: Literal[1, 2]


class TraceRecord(BaseModel):
    """One logged /v1/respond request (one JSON object a line). Unknown fields are ignored so
    that later versions of the planner can add some without breaking readers."""

    model_config = ConfigDict(extra="ignore")

    version: int = TRACE_VERSION
    ts: str = Field(description="ISO-8601 time the request was answered")
    request_id: str
    workspace_id: str
    user_id: str | None = None
    query: str = Field(description="the user's last message")
    index_version: str | None = None
    tool_calls: list[TraceToolCall]
    final_text_ok: bool

    @field_validator("ts")
    @classmethod
    def _iso_time(cls, value: str) -> str:
        datetime.fromisoformat(value)  # ValueError -> ValidationError
        return value
