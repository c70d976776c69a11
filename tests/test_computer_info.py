"""get_computer_info: a stable id that hides the machine id, overrides, and a stored fallback."""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import platform
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import pybirch.definitions
from pybirch.definitions import computer_info, get_computer_info

KEYS = {"computer_name", "computer_id", "username", "os", "platform"}


@pytest.fixture
def machine_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine-id file of our own in place of the system's (and no override)."""
    path = tmp_path / "machine-id"
    path.write_text("0123456789abcdef0123456789abcdef\n")
    monkeypatch.setattr(computer_info, "MACHINE_ID_FILES", (path,))
    monkeypatch.setattr(computer_info.sys, "platform", "linux")
    monkeypatch.delenv("PYBIRCH_COMPUTER_ID", raising=False)
    monkeypatch.delenv("PYBIRCH_COMPUTER_NAME", raising=False)
    return path


def test_the_info_names_this_computer_its_user_and_os(machine_file: Path) -> None:
    info = get_computer_info()
    assert set(info) == KEYS
    assert info["computer_name"] == socket.gethostname()
    assert info["os"] == platform.system()
    assert info["platform"] == platform.platform()
    assert info["username"]
    assert json.loads(json.dumps(info)) == info  # it travels to the server as JSON
    assert pybirch.definitions.get_computer_info is get_computer_info


def test_the_id_is_stable_and_does_not_publish_the_machine_id(machine_file: Path) -> None:
    raw = "0123456789abcdef0123456789abcdef"
    first, second = get_computer_info()["computer_id"], get_computer_info()["computer_id"]
    assert first == second
    assert raw not in first
    assert first != hashlib.sha256(raw.encode()).hexdigest()[: len(first)]  # keyed, not bare
    expected = hmac.new(computer_info.APP_KEY, raw.encode(), hashlib.sha256).hexdigest()
    assert first == expected[:32]
    machine_file.write_text("fedcba9876543210fedcba9876543210\n")
    assert get_computer_info()["computer_id"] != first  # another machine, another id


def test_environment_overrides_let_one_machine_play_two_computers(
    machine_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYBIRCH_COMPUTER_NAME", " LABPC-01 ")
    monkeypatch.setenv("PYBIRCH_COMPUTER_ID", "simulated-1")
    first = get_computer_info()
    monkeypatch.setenv("PYBIRCH_COMPUTER_NAME", "LABPC-02")
    monkeypatch.setenv("PYBIRCH_COMPUTER_ID", "simulated-2")
    second = get_computer_info()
    assert (first["computer_name"], first["computer_id"]) == ("LABPC-01", "simulated-1")
    assert (second["computer_name"], second["computer_id"]) == ("LABPC-02", "simulated-2")
    monkeypatch.setenv("PYBIRCH_COMPUTER_ID", "   ")  # blank: no override
    assert get_computer_info()["computer_id"] == computer_info.computer_id() != "   "


@pytest.mark.parametrize("content", ["", "uninitialized\n", "0" * 32])
def test_without_a_machine_id_one_random_id_is_kept_in_the_data_dir(
    machine_file: Path, tmp_path: Path, content: str
) -> None:
    machine_file.write_text(content)
    first = get_computer_info()["computer_id"]
    assert first == get_computer_info()["computer_id"]
    stored = tmp_path / "pybirch-data" / computer_info.STORED_ID_FILE  # PYBIRCH_DATA_DIR
    assert stored.read_text().strip() == first
    assert len(first) == 32
    assert [p.name for p in stored.parent.iterdir() if p.name.startswith(".")] == []


def test_a_missing_machine_id_file_falls_back_too(
    machine_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(computer_info, "MACHINE_ID_FILES", (tmp_path / "absent",))
    assert computer_info.machine_id() is None
    assert get_computer_info()["computer_id"] == computer_info.computer_id()


def test_an_unknown_os_user_is_none(machine_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_user() -> str:
        raise OSError("no user name")

    monkeypatch.setattr(computer_info.getpass, "getuser", no_user)
    assert get_computer_info()["username"] is None


def test_the_definitions_package_imports_nothing_above_it() -> None:
    package = Path(pybirch.definitions.__file__).parent
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("pybirch.web", "pybirch.agent", "pybirch.cli")), (
                    f"{source.name} imports {name}"
                )


def test_importing_it_loads_no_web_agent_or_cli_module() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, pybirch.definitions; print(' '.join(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    above = [m for m in loaded if m.startswith(("pybirch.web", "pybirch.agent", "pybirch.cli"))]
    assert above == []
