"""The ``lucy`` command: serve, build and inspect the index, retrieve, manage connections."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.table import Table

from lucy.console import console, err, errors, progress_bar
from lucy.errors import IndexLockedError, IndexNotReadyError, LucyError, ServerUnreachableError
from lucy.eval.cli import eval_app
from lucy.jobs.cli import jobs_app, worker
from lucy.settings import Settings

if TYPE_CHECKING:
    from lucy.capability_index.service import CapabilityIndex
    from lucy.models import RetrievalResult, SourceListing
    from lucy.providers.configured import ProviderSet
    from lucy.remote import LucyServer

app = typer.Typer(help="Lucy: tool selection for an LLM assistant.", no_args_is_help=True)
index_app = typer.Typer(help="Build and inspect the capability index.", no_args_is_help=True)
connections_app = typer.Typer(
    help="Which toolkits a workspace has connected.", no_args_is_help=True
)
app.add_typer(index_app, name="index")
app.add_typer(eval_app, name="eval")
app.add_typer(connections_app, name="connections")
app.add_typer(jobs_app, name="jobs")
db_app = typer.Typer(help="The database (LUCY_DATABASE_URL).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.command()(worker)
T = TypeVar("T")

Workspace = Annotated[str, typer.Argument(help="Workspace id, e.g. demo or T024BE7LD.")]
User = Annotated[str | None, typer.Option("--user", help="A user in the workspace.")]


def _open(settings: Settings | None = None) -> tuple[CapabilityIndex, ProviderSet]:
    """The index, reading connection state from the providers the settings turn on. Raises
    ``IndexLockedError`` (before the model loads) while another process holds the embedded
    index's live version."""
    from lucy.capability_index.edge_store import EdgeStore
    from lucy.capability_index.service import CapabilityIndex, make_store
    from lucy.providers.configured import providers_from_settings

    settings = settings or Settings()
    store = make_store(settings)
    if isinstance(store, EdgeStore):
        try:
            store.open_live()
        except IndexLockedError:
            store.close()
            raise
    providers = providers_from_settings(settings)
    return CapabilityIndex(settings, store=store, readers=providers.readers), providers


def _with_index(
    action: Callable[[CapabilityIndex], T], beside: Callable[[LucyServer], T] | None = None
) -> T:
    """``action`` on the embedded index; while another process (a running ``lucy serve``)
    holds it, ``beside`` on the server at ``LUCY_URL`` instead."""
    import asyncio

    with errors():
        try:
            index, providers = _open()
        except IndexLockedError as locked:
            if beside is None:
                raise
            return _on_server(locked, beside)
        try:
            return action(index)
        finally:
            index.close()
            asyncio.run(providers.aclose())


def _on_server(locked: IndexLockedError, action: Callable[[LucyServer], T]) -> T:
    from lucy.remote import LucyServer

    url = Settings().server_url
    try:
        with LucyServer(url) as server:
            return action(server)
    except ServerUnreachableError as exc:
        raise ServerUnreachableError(
            f"{locked}, and {exc}; set LUCY_URL to the server that holds it", url=url
        ) from exc


def _listings(settings: Settings) -> list[SourceListing]:
    """Every enabled provider's tools, read in a loop of their own (closed after)."""
    import asyncio

    from lucy.capability_index.sources import collect_listings
    from lucy.providers.configured import providers_from_settings

    async def collect() -> list[SourceListing]:
        async with providers_from_settings(settings) as providers:
            return await collect_listings(providers.sources)

    return asyncio.run(collect())


def _build(index: CapabilityIndex) -> None:
    listings = _listings(index.settings)
    with progress_bar() as bar:
        task = bar.add_task("embedding tools", total=None)
        report = index.build(
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            listings=listings,
        )
    console.print(
        f"built [bold]{report.collection}[/bold]: {report.tools} tools in {report.toolkits} "
        f"toolkits; re-embedded {report.embedded}, reused {report.reused}; "
        f"{report.seconds:.1f} s (previous: {report.previous or 'none'})"
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (LUCY_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (LUCY_PORT).")] = None,
) -> None:
    """Start the HTTP API; builds the index first if there is none."""
    import uvicorn

    from lucy.api import create_app

    settings = Settings()
    with errors():
        index, providers = _open(settings)
        try:
            index.check_live()
        except IndexNotReadyError as exc:  # none yet, or made by another model or runtime
            err.print(f"{exc}; building it first")
            _build(index)
    uvicorn.run(
        create_app(settings, index=index, providers=providers),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        loop="uvloop",  # the event loop and HTTP parser in C: less per-request overhead
        http="httptools",
    )


def _held_by(server: LucyServer) -> NoReturn:
    """A build needs the index to itself: name the server that holds it (if one answers)."""
    live = server.live_version()
    raise LucyError(
        f"the index is held by the Lucy server at {server.url} (live: {live or 'none'}); "
        "to build, stop it, run `lucy index build`, then start it again"
    )


@index_app.command("build")
def index_build() -> None:
    """Build a new index version from every enabled source and make it live."""
    _with_index(_build, _held_by)


@index_app.command("status")
def index_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The live version, the stored versions and counts."""
    status = _with_index(lambda index: index.status(), lambda server: server.index_status())
    if as_json:
        console.print_json(json.dumps(status))
        return
    table = Table(show_header=False)
    for key, value in status.items():
        table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    console.print(table)


@app.command()
def retrieve(
    query: Annotated[str, typer.Argument(help="The request, in the user's words.")],
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="Workspace id.")] = "demo",
    k: Annotated[int, typer.Option("-k", help="How many candidates.")] = 5,
    user: User = None,
    toolkit: Annotated[
        list[str] | None, typer.Option("--toolkit", "-t", help="Only these toolkits.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the /v1/retrieve response body.")
    ] = False,
) -> None:
    """Retrieve the tools that fit a request, as /v1/retrieve does."""
    result = _with_index(
        lambda index: index.retrieve(
            query, workspace_id=workspace, user_id=user, k=k, toolkits=toolkit
        ),
        lambda server: server.retrieve(
            query, workspace_id=workspace, user_id=user, k=k, toolkits=toolkit
        ),
    )
    _print_retrieval(query, workspace, result, as_json=as_json)


def _print_retrieval(query: str, workspace: str, result: RetrievalResult, *, as_json: bool) -> None:
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    table = Table(title=f"{query!r} in {workspace} ({result.index_version})")
    for column in ("#", "slug", "toolkit", "score", "tags", "intent"):
        table.add_column(column)
    for i, c in enumerate(result.candidates, start=1):
        tags = f"{'/'.join(c.tags.verbs)} {'/'.join(c.tags.objects[:2])}"
        table.add_row(str(i), c.slug, c.toolkit, f"{c.score:.3f}", tags, c.matched_intent or "")
    console.print(table)
    for m in result.missing_connections:
        console.print(
            f"[yellow]not connected:[/yellow] {m.name} ({m.toolkit}) - {m.reason}; "
            f"e.g. {', '.join(m.example_tools)}. Connect: "
            f"lucy connections connect {workspace} {m.toolkit}"
        )
    console.print(f"[dim]{result.timings.total_ms:.1f} ms[/dim]")


def _print_connections(workspace: str, toolkits: list[str]) -> None:
    console.print(f"{workspace}: {', '.join(toolkits) if toolkits else '(none connected)'}")


@connections_app.command("connect")
def connections_connect(
    workspace: Workspace,
    toolkits: Annotated[list[str], typer.Argument(help="Toolkits to connect.")],
    user: User = None,
) -> None:
    """Connect toolkits for a workspace (or one user in it)."""
    found = _with_index(
        lambda index: index.connect(workspace, toolkits, user),
        lambda server: server.connect(workspace, toolkits, user),
    )
    _print_connections(workspace, found)


@connections_app.command("disconnect")
def connections_disconnect(
    workspace: Workspace,
    toolkits: Annotated[list[str], typer.Argument(help="Toolkits to disconnect.")],
    user: User = None,
) -> None:
    """Disconnect toolkits from a workspace (or one user in it)."""
    found = _with_index(
        lambda index: index.disconnect(workspace, toolkits, user),
        lambda server: server.disconnect(workspace, toolkits, user),
    )
    _print_connections(workspace, found)


@connections_app.command("list")
def connections_list(workspace: Workspace, user: User = None) -> None:
    """The toolkits a workspace (and user) can use."""
    found = _with_index(
        lambda index: index.connected(workspace, user),
        lambda server: server.connected(workspace, user),
    )
    _print_connections(workspace, found)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database's schema to the latest migration (the service also does at start)."""
    import asyncio

    from lucy.store import current_revision, database_url, upgrade

    url = database_url(Settings().database_url, Settings().data_dir)
    with errors():
        asyncio.run(upgrade(url))
        revision = asyncio.run(current_revision(url))
    console.print(f"database at revision {revision}")
