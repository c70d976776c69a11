#!/usr/bin/env bash
# Creates .venv and installs PyBirch with its development tools; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# A C compiler builds the scan engine's tight loop (PyBirch installs without one, slower).
if ! command -v cc >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# Reinstall only when the package's build changed since the last successful install (the
# install compiles the scan engine's tight loop, src/pybirch/scan/_tight_loop.c).
stamp=.venv/.pybirch-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ] \
    || [ src/pybirch/scan/_tight_loop.c -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    touch "$stamp"
fi

# Browser libraries from the npm registry (pinned in package-lock.json), served locally:
# lab computers are often offline, so nothing is loaded from a CDN.
vendor=src/pybirch/web/static/vendor
if [ ! -f "$vendor/.installed" ] || [ package-lock.json -nt "$vendor/.installed" ] \
    || [ src/pybirch/web/bundles/codemirror.js -nt "$vendor/.installed" ] \
    || [ scripts/plotly_css.js -nt "$vendor/.installed" ]; then
    if ! command -v npm >/dev/null; then
        echo "npm is needed for the web UI's browser libraries; install Node.js" >&2
        exit 1
    fi
    npm ci --no-audit --no-fund --silent
    mkdir -p "$vendor"
    cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css "$vendor/"
    cp node_modules/socket.io-client/dist/socket.io.min.js "$vendor/"
    # Plots and maps; its style rules as a file, since the CSP forbids the <style> it injects.
    cp node_modules/plotly.js-dist-min/plotly.min.js "$vendor/"
    node scripts/plotly_css.js node_modules/plotly.js-dist-min/plotly.min.js "$vendor/plotly.css" \
        "$vendor/plotly-maplibre.css"
    # CodeMirror 6 ships no browser bundle: esbuild (pinned, from npm) makes one IIFE of the
    # editor, Python highlighting and lint markers (see src/pybirch/web/bundles/codemirror.js).
    node_modules/.bin/esbuild src/pybirch/web/bundles/codemirror.js --bundle --minify \
        --format=iife --global-name=PyBirchCodeMirror --log-level=warning \
        --outfile="$vendor/codemirror.iife.js"
    touch "$vendor/.installed"
fi

# The browser tests drive Debian's chromium (never `playwright install`: it downloads a browser
# from a host lab networks often block).
if [ ! -x /usr/bin/chromium ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "note: /usr/bin/chromium is missing; install Debian's chromium for the browser tests" >&2
    fi
fi
