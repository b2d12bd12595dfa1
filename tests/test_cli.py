"""The ``lucy`` command, run in-process against a real index in a temporary data dir."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lucy.api import create_app
from lucy.capability_index.service import CapabilityIndex
from lucy.cli import app


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {"LUCY_DATA_DIR": str(tmp_path_factory.mktemp("cli"))}


def run(env: dict[str, str], *args: str):
    result = CliRunner().invoke(app, list(args), env=env)
    return result


def test_build_status_retrieve_connections(cli_env: dict[str, str], embedder) -> None:
    built = run(cli_env, "index", "build")
    assert built.exit_code == 0, built.output
    assert "re-embedded" in built.output and "reused 0" in built.output

    status = run(cli_env, "index", "status", "--json")
    assert status.exit_code == 0
    assert json.loads(status.output)["live_version"].startswith("lucy_tools_v")

    table = run(cli_env, "retrieve", "open a bug in linear for the login crash", "-k", "3")
    assert table.exit_code == 0, table.output
    assert "LINEAR_CREATE_ISSUE" in table.output

    listed = run(cli_env, "connections", "connect", "T1", "github", "slack")
    assert listed.exit_code == 0
    assert "github, slack" in listed.output
    assert "github" in run(cli_env, "connections", "list", "T1").output
    gone = run(cli_env, "connections", "disconnect", "T1", "github")
    assert "T1: slack" in gone.output

    missing = run(
        cli_env, "retrieve", "open a bug in linear for the login crash", "--workspace", "T1"
    )
    assert "not connected" in missing.output and "linear" in missing.output


def test_retrieve_json_is_the_api_body(cli_env: dict[str, str], embedder) -> None:
    query = "send an email to bob about the launch"
    out = run(cli_env, "retrieve", query, "--json", "-k", "4")
    assert out.exit_code == 0, out.output
    from_cli = json.loads(out.output)
    from lucy.settings import Settings

    index = CapabilityIndex(Settings(data_dir=cli_env["LUCY_DATA_DIR"]), embedder=embedder)
    try:
        with TestClient(create_app(index.settings, index=index)) as client:
            from_api = client.post(
                "/v1/retrieve", json={"query": query, "workspace_id": "demo", "k": 4}
            ).json()
    finally:
        index.close()
    from_cli.pop("timings")
    from_api.pop("timings")
    assert from_cli == from_api


def test_errors_are_one_line_and_exit_2(cli_env: dict[str, str]) -> None:
    out = run(cli_env, "retrieve", "hello", "-k", "0")
    assert out.exit_code == 2
    assert "k must be between 1 and 50" in out.output
    bad = run(cli_env, "connections", "connect", "T1", "nosuchkit")
    assert bad.exit_code == 2
    assert "unknown toolkits ['nosuchkit']" in bad.output
