"""A real server process and Debian's chromium driven by Playwright, for the browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Where screenshots of the main pages are saved (kept by CI as artifacts).
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def require_chromium() -> None:
    """Skip without chromium, unless CI is set: then the browser tests must run."""
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing (scripts/bootstrap.sh installs Debian's chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


def logged_in(browser: Any, server: str, username: str, password: str) -> Any:
    """A new laptop-sized page, logged in to ``server``."""
    page = browser.new_page(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    page.goto(f"{server}/")
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    return page


def free_port() -> int:
    """A TCP port nothing listens on (chromium refuses some ports; these are high ones)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(
    data_dir: Path,
    admin_password: str,
    demo: bool = False,
    threads: int = 16,
    port: int | None = None,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """``pybirch serve`` in its own process; yields its URL.

    Its database is ``database_url``, or by default the SQLite file in ``data_dir``; ``env``
    adds environment variables (``REDIS_URL``, a computer identity...).
    """
    port = port or free_port()
    env = {**os.environ, **(env or {}), "PYBIRCH_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    log = (data_dir / "server.log").open("a")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pybirch",
            "serve",
            "--port",
            str(port),
            "--threads",
            str(threads),
            "--admin-password",
            admin_password,
            *(["--demo"] if demo else []),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{url}/login", server)
        yield url
    finally:
        _stop(server)
        log.close()


@contextmanager
def running_agent(
    data_dir: Path,
    url: str,
    token: str,
    database_url: str | None,
    simulated: bool = True,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """``pybirch agent`` (``--simulated`` unless told) in its own process, spool in ``data_dir``.

    ``env`` adds environment variables (a computer identity, a VISA backend...). Without
    ``database_url`` the agent holds only its token and stores through the server.
    """
    env = {**os.environ, **(env or {}), "PYBIRCH_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    log = (data_dir / "agent.log").open("a")
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pybirch",
            "-v",
            "agent",
            "--server",
            url,
            "--token",
            token,
            *(["--simulated"] if simulated else []),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield agent
    finally:
        _stop(agent)
        log.close()


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:  # open WebSockets hold a graceful stop
        process.kill()
        process.wait(timeout=15)


def _wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start (exit {server.poll()})") from None
            time.sleep(0.2)


def confirm(page: Any) -> None:
    """Answer yes to the page's confirmation dialog (destructive forms ask first)."""
    page.locator("dialog.confirm-dialog button.confirm").click()
