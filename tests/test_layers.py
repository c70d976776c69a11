"""The layers hold: the import-linter contracts in pyproject.toml pass, and catch a breach."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: ``lint-imports``, run by this interpreter (the script need not be on PATH).
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"


def lint_imports(source: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """This checkout's contracts, checked over the ``pybirch`` package found in ``source``."""
    config = str(ROOT / "pyproject.toml")
    # PYTHONPATH comes before an installed (editable) pybirch, so `source` is what is read.
    env = {**os.environ, "PYTHONPATH": str(source), "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache", "--no-logo", config],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def python_sources_only(directory: str, names: list[str]) -> list[str]:
    """For :func:`shutil.copytree`: leave out all but packages and ``.py`` files."""
    return [
        name
        for name in names
        if name == "__pycache__" or not (name.endswith(".py") or Path(directory, name).is_dir())
    ]


def test_the_layers_hold(tmp_path: Path) -> None:
    result = lint_imports(ROOT / "src", tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("database", "pybirch.queue"),
        ("database", "pybirch.database_integration"),
        ("queue", "pybirch.database"),
        ("scan", "pybirch.web"),
    ],
)
def test_a_module_crossing_a_layer_is_caught(tmp_path: Path, layer: str, forbidden: str) -> None:
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "pybirch", copy / "pybirch", ignore=python_sources_only)
    (copy / "pybirch" / layer / "layer_breach.py").write_text(f"import {forbidden}\n")

    result = lint_imports(copy, tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"pybirch.{layer}.layer_breach -> {forbidden} (l.1)" in result.stdout
