"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(description="What the user asked, in their words.", max_length=20_000)
    workspace_id: str = Field(description="Workspace (Slack team) id, e.g. T024BE7LD or demo.")
    user_id: str | None = Field(None, description="Adds the user's own connections.")
    k: int | None = Field(None, description="How many candidates (default 5, at most 50).")
    toolkits: list[str] | None = Field(
        None, description="Search only these toolkits (still filtered by connections)."
    )


class ConnectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    toolkits: list[str] = Field(min_length=1, description="Toolkits to connect.")
    user_id: str | None = Field(None, description="Connect for this user only.")


class ConnectionsResponse(BaseModel):
    workspace_id: str
    user_id: str | None
    toolkits: list[str]


class ErrorBody(BaseModel):
    type: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class JobRunView(BaseModel):
    started: str
    seconds: float
    ran: bool = Field(description="False: another replica held the job's lock; skipped.")
    ok: bool
    counts: dict[str, int]
    error: str | None = None


class CacheKindView(BaseModel):
    l1_hits: int = Field(description="Answered by this process's tier.")
    l2_hits: int = Field(description="Answered by the shared tier (Redis).")
    misses: int = Field(description="Went to the source: vector store, database, provider, model.")
    hit_ratio: float | None = Field(description="Hits over lookups; null before any lookup.")


class HealthResponse(BaseModel):
    status: str
    index_version: str | None = None


class ReadyResponse(HealthResponse):
    jobs: dict[str, JobRunView] = Field(
        default_factory=dict, description="The last run of each job in this process."
    )
    cache: dict[str, CacheKindView] = Field(
        default_factory=dict,
        description="Lookups per kind of cached value in this process since it started: "
        "tools (a version's tool schemas), conn (connected toolkits), qvec (query embeddings).",
    )


class ThreadMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class RespondRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workspace_id: str = Field(description="Workspace (Slack team) id.")
    user_id: str | None = Field(None, description="The Slack user who asked.")
    thread: list[ThreadMessage] = Field(
        min_length=1, max_length=200, description="The conversation so far, oldest first."
    )
    format: Literal["markdown", "slack"] = Field(
        "markdown", description="markdown, or Slack mrkdwn for posting as is."
    )

    @field_validator("thread")
    @classmethod
    def _ends_with_user(cls, thread: list[ThreadMessage]) -> list[ThreadMessage]:
        if thread and (thread[-1].role != "user" or not thread[-1].content.strip()):
            raise ValueError("the thread must end with a non-empty user message")
        return thread
