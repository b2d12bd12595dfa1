"""The setup block of report.json and what `lucy eval compare` says when two setups differ."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from typer.testing import CliRunner

from lucy.cli import app
from lucy.eval.report import summarize, write_reports
from lucy.eval.setup import run_setup, setup_changes
from lucy.settings import RetrievalWeights
from tests.test_eval_report import make_run


def test_setup_names_model_settings_and_libraries() -> None:
    setup = run_setup("bundled:all-MiniLM-L6-v2", RetrievalWeights(dense_weight=2.0))
    assert setup["embedder"] == "bundled:all-MiniLM-L6-v2"
    assert setup["retrieval"]["dense_weight"] == 2.0
    assert setup["packages"]["torch"].startswith("2.13.0")
    assert setup["packages"]["sentence-transformers"]
    checkout = (Path(__file__).resolve().parents[1] / ".git").exists()
    assert bool(setup.get("git_commit")) == checkout


def test_changes_list_every_differing_leaf() -> None:
    a = run_setup("m", RetrievalWeights())
    b = run_setup("m", RetrievalWeights(dense_weight=2.5, max_intents=1))
    assert setup_changes(a, b) == [
        "retrieval.dense_weight: 1.6 -> 2.5",
        "retrieval.max_intents: 6 -> 1",
    ]
    assert setup_changes(a, a) == []
    assert setup_changes({"x": 1}, {"x": 1, "y": {"z": 2}}) == ["y.z: None -> 2"]
    assert setup_changes(None, a) == []


def test_compare_prints_what_differs(tmp_path: Path) -> None:
    base = make_run()
    a = write_reports(replace(base, setup=run_setup("m", RetrievalWeights())), tmp_path / "a")
    b = write_reports(
        replace(base, setup=run_setup("m", RetrievalWeights(sparse_weight=0.5))), tmp_path / "b"
    )
    old = write_reports(base, tmp_path / "old")  # a report written before setups were kept
    assert summarize(base)["setup"] == {}
    cli = CliRunner()

    def compare(x: Path, y: Path) -> str:
        result = cli.invoke(app, ["eval", "compare", str(x), str(y), "--resamples", "100"])
        assert result.exit_code == 0, result.output
        return result.output

    assert "retrieval.sparse_weight: 1.0 -> 0.5" in compare(a["report.json"], b["report.json"])
    assert "Setup: the same" in compare(a["report.json"], a["report.json"])
    assert "not recorded in B" in compare(a["report.json"], old["report.json"])
