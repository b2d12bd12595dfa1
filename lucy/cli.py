"""The ``lucy`` command: serve, build and inspect the index, retrieve, manage connections."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from lucy.console import console, err, errors, progress_bar
from lucy.eval.cli import eval_app
from lucy.jobs.cli import jobs_app, worker
from lucy.settings import Settings

if TYPE_CHECKING:
    from lucy.capability_index.service import CapabilityIndex
    from lucy.models import SourceListing
    from lucy.providers.configured import ProviderSet

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
    """The index, reading connection state from the providers the settings turn on."""
    from lucy.capability_index.service import CapabilityIndex
    from lucy.providers.configured import providers_from_settings

    settings = settings or Settings()
    providers = providers_from_settings(settings)
    return CapabilityIndex(settings, readers=providers.readers), providers


def _with_index(action: Callable[[CapabilityIndex], T]) -> T:
    import asyncio

    with errors():
        index, providers = _open()
        try:
            return action(index)
        finally:
            index.close()
            asyncio.run(providers.aclose())


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
        if not index.ready():
            err.print("no live index yet: building it first")
            _build(index)
    uvicorn.run(
        create_app(settings, index=index, providers=providers),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
    )


@index_app.command("build")
def index_build() -> None:
    """Build a new index version from every enabled source and make it live."""
    _with_index(_build)


@index_app.command("status")
def index_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The live version, the stored versions and counts."""
    status = _with_index(lambda index: index.status())
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
        )
    )
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
    found = _with_index(lambda index: index.connect(workspace, toolkits, user))
    _print_connections(workspace, found)


@connections_app.command("disconnect")
def connections_disconnect(
    workspace: Workspace,
    toolkits: Annotated[list[str], typer.Argument(help="Toolkits to disconnect.")],
    user: User = None,
) -> None:
    """Disconnect toolkits from a workspace (or one user in it)."""
    found = _with_index(lambda index: index.disconnect(workspace, toolkits, user))
    _print_connections(workspace, found)


@connections_app.command("list")
def connections_list(workspace: Workspace, user: User = None) -> None:
    """The toolkits a workspace (and user) can use."""
    _print_connections(workspace, _with_index(lambda index: index.connected(workspace, user)))


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
