"""The FastAPI application, built from Settings (tests pass their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.routing import Route

from lucy.api.admin_routes import router as admin_router
from lucy.api.events import router as events_router
from lucy.api.mcp_server import MCPEndpoint, WithSlash, build_mcp_server
from lucy.api.routes import router
from lucy.capability_index.service import CapabilityIndex
from lucy.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    IndexNotReadyError,
    InvalidRequestError,
    LLMNotConfiguredError,
    LucyError,
    UnknownToolError,
)
from lucy.jobs.lock import RedisLocks, job_locks
from lucy.jobs.pending import pending_refreshes
from lucy.jobs.runner import RunLog, job_context
from lucy.jobs.scheduler import start_scheduler
from lucy.planner.service import Responder
from lucy.providers.configured import ProviderSet, providers_from_settings
from lucy.providers.executor import ToolExecutor
from lucy.settings import Settings
from lucy.store import Database, UsageRecorder, database_url, upgrade

_STATUS: list[tuple[type[LucyError], int]] = [
    (UnknownToolError, 404),
    (InvalidRequestError, 422),
    (AuthenticationError, 401),
    (ConfigurationError, 503),
    (IndexNotReadyError, 503),
    (BackendUnavailableError, 503),
    (LLMNotConfiguredError, 503),
]


def create_app(
    settings: Settings | None = None,
    *,
    index: CapabilityIndex | None = None,
    responder: Callable[[CapabilityIndex], Responder] | None = None,
    providers: ProviderSet | None = None,
) -> FastAPI:
    """The app. With no ``index`` one is opened from ``settings`` at startup, closed at exit.
    ``/v1/respond`` uses ``responder(index)`` if given, else the configured LLM (none: 503),
    running tools on ``providers`` (default: those the settings turn on; the app closes them
    at shutdown)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = index is None
        app.state.providers = providers or providers_from_settings(settings)
        app.state.index = index or CapabilityIndex(settings, readers=app.state.providers.readers)
        app.state.index.warm()
        app.state.executor = ToolExecutor(app.state.providers.executors)
        url = database_url(settings.database_url, settings.data_dir)
        await upgrade(url)  # migrations run at start (idempotent; one runner at a time)
        database = await Database.open(url)
        app.state.event_ledger = database.events
        if responder is not None:
            app.state.responder = responder(app.state.index)
        elif settings.llm_configured:
            app.state.responder = Responder.from_settings(
                settings,
                app.state.index,
                executor=app.state.executor,
                traces=[database.traces, UsageRecorder(database.usage)],
            )
        else:
            app.state.responder = None
        scheduler, locks = None, None
        if settings.jobs.in_api:
            locks = job_locks(settings)
            context = job_context(
                app.state.index,
                app.state.providers,
                app.state.pending_refreshes,
                database,
                settings,
            )
            scheduler = start_scheduler(context, locks, app.state.runs, settings.jobs)
        try:
            async with mcp.running():
                yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            if isinstance(locks, RedisLocks):
                locks.close()
            await database.close()
            if app.state.responder is not None:
                await app.state.responder.aclose()
            await app.state.providers.aclose()
            if owned:
                app.state.index.close()

    app = FastAPI(
        title="Lucy",
        version="0.1.0",
        summary="Tool selection for an LLM assistant: retrieve the tools that fit a request.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pending_refreshes = pending_refreshes(settings)
    app.state.runs = RunLog()
    app.include_router(router)
    app.include_router(events_router)
    app.include_router(admin_router)
    mcp = MCPEndpoint(
        lambda: build_mcp_server(lambda: app.state.index, lambda: app.state.executor, settings),
        settings,
    )
    app.mount("/mcp", mcp)
    app.router.routes.append(Route("/mcp", WithSlash(mcp, "/mcp"), include_in_schema=False))

    @app.exception_handler(LucyError)
    async def lucy_error(request: Request, exc: LucyError) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
        return _error(status, type(exc).__name__, str(exc), getattr(exc, "field", None))

    @app.exception_handler(RequestValidationError)
    async def bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return _error(422, "InvalidRequestError", message, where)

    return app


def _error(status: int, kind: str, message: str, field: str | None) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": {"type": kind, "message": message, "field": field}}
    )
