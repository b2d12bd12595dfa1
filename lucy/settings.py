"""One Settings object, read from ``LUCY_*`` environment variables; built once, passed in."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Backend = Literal["torch", "onnx", "onnx-int8"]
"""Runtime of the embedding model (``LUCY_EMBEDDING_BACKEND``)."""
View = Literal["plain", "description", "signature"]
"""A text of a tool whose embedding goes into its dense vector (``LUCY_DOCUMENT_VIEWS``)."""
ALL_VIEWS: tuple[View, ...] = ("plain", "description", "signature")


class RetrievalWeights(BaseModel):
    """How the retriever fuses and re-scores; every number here is a tunable, not a literal."""

    fusion: Literal["minmax", "rrf"] = Field(
        "minmax", description="How the dense and sparse rankings are combined."
    )
    rrf_k: int = Field(60, ge=1, description="RRF constant: score = w / (rrf_k + rank).")
    dense_weight: float = Field(
        1.6, ge=0.0, description="Weight of the dense ranking in the fusion (minmax or RRF)."
    )
    sparse_weight: float = Field(
        1.0, ge=0.0, description="Weight of the BM25 ranking in the fusion (minmax or RRF)."
    )
    prefetch_limit: int = Field(50, ge=1, le=1000, description="Hits taken from each ranking.")
    query_template: str = Field(
        "{request} Which tool?",
        max_length=200,
        description="The text whose embedding ranks tools for the whole request ({request}); "
        "parts of a split request and every similarity use the text as written. Empty = the "
        "request alone, one embedding fewer.",
    )
    toolkit_mention_boost: float = Field(
        0.5, ge=0.0, description="Added when the request names the tool's toolkit."
    )
    verb_match_boost: float = Field(
        0.25, ge=0.0, description="Added when the request's action verb is the tool's verb."
    )
    verb_family_boost: float = Field(
        0.1, ge=0.0, description="Added when the verbs differ but belong to one family."
    )
    verb_mismatch_penalty: float = Field(
        0.2, ge=0.0, description="Subtracted when the request's verb contradicts the tool's."
    )
    object_match_boost: float = Field(
        0.15, ge=0.0, description="Added when the request names the tool's object (issue, event)."
    )
    usage_prior_weight: float = Field(
        0.05, ge=0.0, description="Weight of the normalised usage prior (0..1)."
    )
    missing_min_similarity: float = Field(
        0.3,
        ge=-1.0,
        le=1.0,
        description="Least dense cosine for an unconnected toolkit to count as strongly matching.",
    )
    missing_max_toolkits: int = Field(3, ge=0, description="At most this many missing toolkits.")
    max_intents: int = Field(6, ge=1, description="Most parts a request is split into.")
    part_leader_margin: float = Field(
        0.0,
        description="A part's best tool opens the shortlist only if its dense similarity is at "
        "least the whole request's best's minus this.",
    )
    part_penalty: float = Field(
        0.3, ge=0.0, description="Subtracted from scores found by one part of a split request."
    )

    @field_validator("query_template")
    @classmethod
    def _names_the_request(cls, template: str) -> str:
        if template and template.count("{request}") != 1:
            raise ValueError("must contain {request} exactly once, or be empty")
        return template


class PlannerSettings(BaseModel):
    """The tool loop's limits. Every guard reads its numbers from here."""

    k1: int = Field(5, ge=1, le=20, description="Candidates offered in stage 1.")
    retrieval_query_chars: int = Field(
        1000, ge=10, description="Retrieval sees at most this many characters of a request."
    )
    k2: int = Field(10, ge=1, le=50, description="Candidates retrieved when stage 2 widens.")
    max_offered_tools: int = Field(
        12, ge=1, le=64, description="Most tool schemas ever offered to the model at once."
    )
    stage2_min_similarity: float = Field(
        0.3,
        ge=-1.0,
        le=1.0,
        description="Below this dense similarity of the best candidate, stage 2 runs at once.",
    )
    max_llm_steps: int = Field(8, ge=2, le=50, description="LLM calls per request, incl. the last.")
    max_tool_calls: int = Field(16, ge=1, le=200, description="Tool executions per request.")
    deadline_seconds: float = Field(60.0, gt=0, description="Wall-clock budget per request.")
    prompt_token_budget: int = Field(
        12000, ge=500, description="Estimated tokens the prompt (messages + schemas) may use."
    )
    max_result_chars: int = Field(
        12000, ge=200, description="A tool result longer than this is truncated, with a marker."
    )
    max_gate_pages: int = Field(
        5, ge=0, le=50, description="Pages the completeness gate may fetch per request."
    )
    llm_timeout_seconds: float = Field(30.0, gt=0, description="One LLM call's time limit.")
    llm_max_retries: int = Field(
        1, ge=0, le=5, description="Retries of an LLM call after 429, 5xx or connect errors."
    )


class JobSettings(BaseModel):
    """The scheduled jobs: where they run and how often."""

    in_api: bool = Field(
        True, description="Run the schedule in the API process; false = only in `lucy worker`."
    )
    refresh_seconds: float = Field(
        3600.0, gt=0, description="Seconds between full schema refreshes from every source."
    )
    refresh_pending_seconds: float = Field(
        30.0, gt=0, description="Seconds between refreshes of toolkits marked as changed."
    )
    retention_seconds: float = Field(
        3600.0, gt=0, description="Seconds between runs of the trace retention job."
    )
    usage_rollup_seconds: float = Field(
        600.0, gt=0, description="Seconds between roll-ups of tool usage into the index."
    )
    sweep_seconds: float = Field(
        900.0, gt=0, description="Seconds between sweeps for connections that lapsed."
    )
    lock_ttl_seconds: float = Field(
        900.0, gt=0, description="A job's lock expires after this (a stalled runner loses it)."
    )


class MCPServerConfig(BaseModel):
    """One MCP server in ``LUCY_MCP_SERVERS``: a command to run (stdio) or a URL (streamable
    HTTP). Its tools form one toolkit, named after the server's key unless ``toolkit`` says."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: list[str] | None = Field(None, min_length=1, description="argv of a stdio server.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment (stdio).")
    cwd: Path | None = Field(None, description="Working folder of a stdio server.")
    url: str | None = Field(None, description="Streamable HTTP endpoint, e.g. http://h:p/mcp.")
    headers: dict[str, str] = Field(default_factory=dict, description="HTTP headers (url).")
    toolkit: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$")
    name: str | None = Field(None, description="Display name; default: the server's own name.")
    workspaces: list[str] | None = Field(
        None, description="Workspaces that may use it; unset = every workspace."
    )
    timeout_seconds: float = Field(10.0, gt=0, description="Connect and list timeout.")

    @model_validator(mode="after")
    def _one_transport(self) -> Self:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of 'command' (stdio) or 'url' (streamable HTTP)")
        return self


def toolkit_of_server(key: str, config: MCPServerConfig) -> str:
    """The toolkit an MCP server's tools belong to: ``toolkit``, else the key made an id."""
    if config.toolkit:
        return config.toolkit
    made = re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")
    return made if made[:1].isalpha() else f"mcp_{made}"


class Settings(BaseSettings):
    """Lucy's configuration. Defaults need no server: embedded Qdrant, in-process cache."""

    model_config = SettingsConfigDict(env_prefix="LUCY_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(Path(".lucy"), description="Embedded index, connections, usage stats.")
    qdrant_url: str | None = Field(None, description="Qdrant server URL; unset = embedded engine.")
    database_url: str | None = Field(
        None,
        description="sqlite:///path or postgresql://user@host:port/db; unset = SQLite file "
        "lucy.db under data_dir.",
    )
    trace_retention_days: float = Field(
        30.0, gt=0, description="Trace records older than this are deleted by the retention job."
    )
    qdrant_api_key: SecretStr | None = None
    collection_prefix: str = Field("lucy_tools", pattern=r"^[a-z][a-z0-9_]{0,40}$")
    redis_url: str | None = Field(None, description="Redis URL; unset = in-process cache only.")
    cache_ttl_seconds: float = Field(
        900.0,
        gt=0,
        description="How long a workspace's connection state stays cached. A backstop: auth "
        "events drop it at once, a provider's auth error drops it, and a reply asking to "
        "connect a toolkit checks the source first.",
    )
    redis_timeout_seconds: float = Field(0.05, gt=0, description="Redis fails open past this.")
    redis_backoff_seconds: float = Field(
        1.0, ge=0, description="After a Redis error, the cache leaves Redis alone this long."
    )
    connection_cold_wait_seconds: float = Field(
        2.0,
        ge=0,
        description="Longest a request waits for a provider's connection state of a workspace "
        "it has never read; past it the request goes on without that provider's toolkits.",
    )
    embedding_model: str | None = Field(
        None, description="sentence-transformers model path or name; unset = bundled MiniLM."
    )
    embedding_backend: Backend = Field(
        "onnx",
        description="Runtime of the embedding model: torch, onnx (an ONNX export of the same "
        "model, made at first use under LUCY_MODEL_CACHE_DIR) or onnx-int8 (that export "
        "quantised for this CPU). An index records it; queries are embedded by the runtime of "
        "the index or refused.",
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where ONNX exports of the embedding model are kept; unset = "
        "LUCY_DATA_DIR/models.",
    )
    embedding_batch_size: int = Field(
        16,
        ge=1,
        description="Texts per model call in a build (ONNX Runtime keeps its largest batch's "
        "buffers, so a larger one costs memory for good).",
    )
    document_views: Annotated[list[View], NoDecode] = Field(
        default_factory=lambda: list(ALL_VIEWS),
        min_length=1,
        description="The texts of a tool whose embeddings are averaged into its dense vector "
        "(comma-separated): plain, description, signature. A change re-embeds every tool.",
    )
    embedding_batch_window_ms: float = Field(
        1.0,
        ge=0,
        le=100,
        description="How long /v1/retrieve waits to gather concurrent requests' query texts "
        "into one model call (0: no wait; texts that arrive while the model runs are batched "
        "anyway).",
    )
    query_cache_size: int = Field(2048, ge=0, description="LRU entries for query embeddings.")
    query_vector_ttl_seconds: float = Field(
        86_400.0,
        gt=0,
        description="How long a query embedding stays in Redis for every replica to reuse.",
    )
    torch_threads: int = Field(2, ge=1)
    catalog_path: Path | None = Field(None, description="Folder of catalog YAML; unset = demo.")
    default_k: int = Field(5, ge=1, le=50)
    max_k: int = Field(50, ge=1, le=200)
    max_query_chars: int = Field(2000, ge=10)
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    url: str | None = Field(
        None,
        description="The running Lucy server the CLI asks while it holds the embedded index; "
        "unset = http://LUCY_HOST:LUCY_PORT.",
    )
    retrieval: RetrievalWeights = Field(default_factory=RetrievalWeights)
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1."
    )
    llm_api_key: SecretStr | None = Field(None, description="API key for the LLM endpoint.")
    llm_model: str | None = Field(None, description="Model name sent with every LLM call.")
    connect_url_template: str | None = Field(
        None,
        description="Link shown when a toolkit must be connected; {toolkit} and {workspace_id} "
        "are filled in. Unset = the reply names the API call and CLI command instead.",
    )
    trace_path: Path | None = Field(
        None,
        description="A JSONL file /v1/respond also appends trace records to (they always go to "
        "the database); unset = the database only.",
    )
    planner: PlannerSettings = Field(default_factory=PlannerSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    events_secret: SecretStr | None = Field(
        None,
        description="Shared secret of /v1/events/* (HMAC-SHA256 signatures); unset = events off.",
    )
    events_tolerance_seconds: int = Field(
        300, ge=1, description="How far a signed event's timestamp may be from now."
    )
    demo_catalog: bool = Field(
        True, description="Index the bundled demo catalog (or LUCY_CATALOG_PATH) as a source."
    )
    composio_api_key: SecretStr | None = Field(
        None, description="Turns the Composio provider on (tools, connections, execution)."
    )
    composio_base_url: str | None = Field(
        None, description="Composio API base URL; unset = the SDK's default."
    )
    composio_toolkits: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="Composio toolkits to index (comma-separated or a JSON list); unset = every "
        "toolkit the account lists.",
    )
    composio_timeout_seconds: float = Field(
        10.0, gt=0, description="HTTP timeout of one Composio API call."
    )
    composio_webhook_secret: SecretStr | None = Field(
        None,
        description="The secret of Composio's webhook subscription; set, "
        "POST /v1/events/providers/composio turns connected-account events into auth events.",
    )
    mcp_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names Lucy's own MCP endpoint (/mcp) answers besides loopback and "
        'LUCY_HOST (DNS-rebinding protection), e.g. ["lucy.internal"].',
    )
    mcp_servers: dict[str, MCPServerConfig] = Field(
        default_factory=dict,
        description='JSON object: {"name": {"command": [...], "env": {...}} or {"url": ...}}.',
    )

    @field_validator("composio_toolkits", "document_views", mode="before")
    @classmethod
    def _toolkit_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [t.strip().lower() for t in text.split(",") if t.strip()] or None
        return value

    @property
    def composio_configured(self) -> bool:
        return self.composio_api_key is not None

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def server_url(self) -> str:
        """``url``, else ``lucy serve``'s own address (loopback for a wildcard bind)."""
        if self.url:
            return self.url.rstrip("/")
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"
