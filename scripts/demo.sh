#!/usr/bin/env bash
# Installs PyBirch (first run only) and runs the demo lab on simulated instruments.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/pybirch demo "$@"
