"""The docs name every setting, route and command the code has (and no route it lacks)."""

from __future__ import annotations

import re
from pathlib import Path

from lucy.api import create_app
from lucy.cli import app as cli_app
from lucy.settings import JobSettings, PlannerSettings, RetrievalWeights, Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CONFIG = (ROOT / "docs" / "configuration.md").read_text()


def test_every_setting_is_documented() -> None:
    names = {
        f"LUCY_{n.upper()}"
        for n in Settings.model_fields
        if n not in ("retrieval", "planner", "jobs")
    }
    names |= {f"LUCY_RETRIEVAL__{n.upper()}" for n in RetrievalWeights.model_fields}
    names |= {f"LUCY_PLANNER__{n.upper()}" for n in PlannerSettings.model_fields}
    names |= {f"LUCY_JOBS__{n.upper()}" for n in JobSettings.model_fields}
    documented = set(re.findall(r"`(LUCY_[A-Z0-9_]+)`", CONFIG))
    assert names == documented


def test_every_route_is_in_the_readme() -> None:
    paths = {getattr(r, "path", "") for r in create_app(Settings()).routes}
    paths -= {"", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
    for path in paths:
        assert f" {path}`" in README, path


def test_every_cli_command_is_in_the_readme() -> None:
    commands = [f"lucy {_name(c)}" for c in cli_app.registered_commands]
    for group in cli_app.registered_groups:
        commands += [
            f"lucy {group.name} {_name(c)}" for c in group.typer_instance.registered_commands
        ]
    for command in commands:
        assert f"`{command}" in README, command


def _name(command) -> str:
    return command.name or command.callback.__name__.replace("_", "-")
