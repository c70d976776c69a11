#!/usr/bin/env bash
# Installs PyBirch (first run only), lints code and layers, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
# The contracts of pyproject.toml, over this checkout's source (not another one's install).
PYTHONPATH=src .venv/bin/lint-imports
# Two workers, a test file each at a time (a file's server or browser is made once).
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
