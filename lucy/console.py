"""Terminal output shared by the ``lucy`` commands: consoles and the one-line error exit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from lucy.errors import LucyError

console = Console()
err = Console(stderr=True)


@contextmanager
def errors() -> Iterator[None]:
    """Print a LucyError as one line (never wrapped, brackets in it kept) and exit with
    status 2."""
    try:
        yield
    except LucyError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc


def progress_bar() -> Progress:
    """A progress bar on stderr: description, bar, done/total, elapsed."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )
