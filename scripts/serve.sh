#!/usr/bin/env bash
# Installs PyBirch (first run only) and serves the web UI with a demo lab on simulated
# instruments, on the embedded SQLite database: http://127.0.0.1:8765/
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/pybirch serve --demo "$@"
