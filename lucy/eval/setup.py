"""What produced an eval run: code, model, settings, libraries and machine.

Two runs are comparable only when you know what differs between them. ``run_setup`` is written
into ``report.json`` under ``setup``; ``setup_changes`` lists what differs between two of them
(``lucy eval compare`` prints it under its table).
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from lucy.capability_index.documents import DOCUMENT_FORMAT
from lucy.settings import RetrievalWeights

PACKAGES = (
    "lucy",
    "torch",
    "sentence-transformers",
    "transformers",
    "qdrant-edge-py",
    "bm25s",
    "numpy",
)
"""Libraries whose version can move a figure."""

_ROOT = Path(__file__).resolve().parents[2]


def run_setup(
    embedder_id: str, weights: RetrievalWeights, document_format: str = DOCUMENT_FORMAT
) -> dict[str, Any]:
    """The setup block of ``report.json``; ``git_commit`` only when run from a checkout."""
    setup: dict[str, Any] = {
        "embedder": embedder_id,
        "document_format": document_format,
        "retrieval": weights.model_dump(mode="json"),
        "packages": {name: _version(name) for name in PACKAGES},
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    state = git_state()
    if state is not None:
        head, dirty = state
        setup["git_commit"] = f"{head}+dirty" if dirty else head
    return setup


def setup_changes(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> list[str]:
    """``"retrieval.dense_weight: 1.6 -> 2.0"`` for every leaf that differs (a key missing on
    one side shows as ``None``); ``[]`` when both are equal or either report has no setup."""
    if not a or not b:
        return []
    left, right = _flatten(a), _flatten(b)
    return [
        f"{key}: {left.get(key)} -> {right.get(key)}"
        for key in sorted(left.keys() | right.keys())
        if left.get(key) != right.get(key)
    ]


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_state(root: Path = _ROOT) -> tuple[str, bool] | None:
    """(short commit, uncommitted changes?) of the checkout at ``root``; None outside one."""
    if not (root / ".git").exists():
        return None
    try:
        head = _git(root, "rev-parse", "--short", "HEAD")
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return head, dirty


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5, check=True
    )
    return done.stdout.strip()
