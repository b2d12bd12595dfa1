"""Routes of the retrieval half of the API."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from lucy.api.schemas import (
    CacheKindView,
    ConnectionsResponse,
    ConnectRequest,
    ErrorResponse,
    HealthResponse,
    JobRunView,
    ReadyResponse,
    RespondRequest,
    RetrieveRequest,
)
from lucy.capability_index.service import CapabilityIndex
from lucy.errors import IndexNotReadyError, LLMNotConfiguredError
from lucy.jobs.runner import RunLog
from lucy.models import RetrievalResult, ToolSpec
from lucy.planner.service import Responder
from lucy.planner.trace import RespondResult

router = APIRouter()
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such tool."},
    422: {"model": ErrorResponse, "description": "The request was refused; see the message."},
    503: {"model": ErrorResponse, "description": "No index is live yet."},
}


def _index(request: Request) -> CapabilityIndex:
    index: CapabilityIndex = request.app.state.index
    return index


@router.post("/v1/retrieve", response_model=RetrievalResult, responses=_ERRORS, tags=["retrieval"])
async def retrieve(body: RetrieveRequest, request: Request) -> Response:
    """The top-k connected tools for a request, and unconnected toolkits that would fit."""
    result = await _index(request).aretrieve(
        body.query,
        workspace_id=body.workspace_id,
        user_id=body.user_id,
        k=body.k,
        toolkits=body.toolkits,
    )
    # already validated by its model: serialised as it is, without a second validation pass
    return Response(orjson.dumps(result.model_dump()), media_type="application/json")


@router.post(
    "/v1/respond",
    response_model=RespondResult,
    responses={**_ERRORS, 503: {"model": ErrorResponse, "description": "No LLM or no index."}},
    tags=["respond"],
)
async def respond(body: RespondRequest, request: Request) -> RespondResult:
    """Answer the last user message of a Slack thread with the workspace's tools: a non-empty
    reply, the trace of what was done, and flags."""
    responder: Responder | None = request.app.state.responder
    if responder is None:
        raise LLMNotConfiguredError(
            "no LLM is configured: set LUCY_LLM_BASE_URL and LUCY_LLM_MODEL (and "
            "LUCY_LLM_API_KEY if the endpoint needs one), then restart Lucy"
        )
    return await responder.respond(
        [m.model_dump() for m in body.thread],
        workspace_id=body.workspace_id,
        user_id=body.user_id,
        format=body.format,
    )


@router.get("/v1/tools/{slug}", response_model=ToolSpec, responses=_ERRORS, tags=["retrieval"])
def get_tool(slug: str, request: Request) -> ToolSpec:
    """One tool of the live index, with its schema and intent tags."""
    return _index(request).tool(slug)


@router.get(
    "/v1/workspaces/{workspace_id}/connections",
    response_model=ConnectionsResponse,
    responses=_ERRORS,
    tags=["connections"],
)
def list_connections(
    workspace_id: str, request: Request, user_id: str | None = Query(None)
) -> ConnectionsResponse:
    """Toolkits connected in a workspace (plus the user's own, given ``user_id``)."""
    found = _index(request).connected(workspace_id, user_id)
    return ConnectionsResponse(workspace_id=workspace_id, user_id=user_id, toolkits=found)


@router.post(
    "/v1/workspaces/{workspace_id}/connections",
    response_model=ConnectionsResponse,
    responses=_ERRORS,
    tags=["connections"],
)
def connect(workspace_id: str, body: ConnectRequest, request: Request) -> ConnectionsResponse:
    """Connect toolkits for a workspace, or for one user in it."""
    found = _index(request).connect(workspace_id, body.toolkits, body.user_id)
    return ConnectionsResponse(workspace_id=workspace_id, user_id=body.user_id, toolkits=found)


@router.delete(
    "/v1/workspaces/{workspace_id}/connections/{toolkit}",
    response_model=ConnectionsResponse,
    responses=_ERRORS,
    tags=["connections"],
)
def disconnect(
    workspace_id: str, toolkit: str, request: Request, user_id: str | None = Query(None)
) -> ConnectionsResponse:
    """Disconnect one toolkit from a workspace (or from one user in it)."""
    found = _index(request).disconnect(workspace_id, [toolkit], user_id)
    return ConnectionsResponse(workspace_id=workspace_id, user_id=user_id, toolkits=found)


@router.get("/healthz", response_model=HealthResponse, tags=["health"])
def healthz() -> HealthResponse:
    """The process is up."""
    return HealthResponse(status="ok")


@router.get("/readyz", response_model=ReadyResponse, responses=_ERRORS, tags=["health"])
def readyz(request: Request) -> ReadyResponse | JSONResponse:
    """Ready when an index version is live."""
    index = _index(request)
    try:
        index.check_live()
    except IndexNotReadyError as exc:
        content = {"status": "no index", "index_version": None, "reason": str(exc)}
        return JSONResponse(status_code=503, content=content)
    runs: RunLog = request.app.state.runs
    jobs = {
        name: JobRunView(
            started=run.started,
            seconds=round(run.seconds, 3),
            ran=run.ran,
            ok=run.ok,
            counts=run.counts,
            error=run.error,
        )
        for name, run in runs.last().items()
    }
    cache = {
        kind: CacheKindView(
            l1_hits=c.l1,
            l2_hits=c.l2,
            misses=c.misses,
            hit_ratio=None if c.hit_ratio is None else round(c.hit_ratio, 4),
        )
        for kind, c in index.cache_counts().items()
    }
    return ReadyResponse(status="ready", index_version=index.live_version(), jobs=jobs, cache=cache)
