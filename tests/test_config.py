"""Configuration: environment over .env over defaults, clear errors, ``pybirch config``."""

from __future__ import annotations

import json
from pathlib import Path

import platformdirs
import pytest
from click.testing import CliRunner

from pybirch.cli.agent import agent
from pybirch.cli.main import cli
from pybirch.configuration import (
    ENV_FILE_VARIABLE,
    ConfigError,
    IntegrationConfig,
    current_config,
    load_config,
)
from pybirch.database.config import default_database_url, default_lab_name
from pybirch.database_integration.spool import fsync_enabled
from pybirch.instruments.driver_files import default_drivers_dir
from pybirch.instruments.visa import default_backend
from pybirch.scan import Scan, ScanSettings
from pybirch.web.builder import max_scan_points
from pybirch.web.config import WebConfig
from pybirch.web.live import socketio
from web_support import make_app

VARIABLES = [variable.name for _field, variable in IntegrationConfig.variables()]
PASSWORD = "hunter2-not-for-eyes"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory and an environment without any PyBirch variable but the
    data directory (which conftest sets)."""
    for name in [*VARIABLES, ENV_FILE_VARIABLE]:
        if name != "PYBIRCH_DATA_DIR":
            monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def write_env(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    return path


def run_cli(*args: str, env: dict[str, str] | None = None):
    # A wide terminal, so that rich does not fold long values across lines.
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "250", **(env or {})})


# -- where values come from ------------------------------------------------------------------


def test_defaults_work_on_one_computer(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYBIRCH_DATA_DIR")
    config = load_config()

    data = Path(platformdirs.user_data_dir("pybirch"))
    assert config.data_dir == data
    assert config.database_url == f"sqlite:///{data / 'pybirch.db'}"
    assert config.drivers_dir == data / "drivers"
    assert config.max_buffer_size == 1000
    assert config.flush_interval_seconds == 0.05
    assert config.instrument_scan_interval == 10.0
    assert config.auto_reconnect_attempts == 3
    assert (config.socketio_ping_interval, config.socketio_ping_timeout) == (25.0, 60.0)
    assert config.socketio_async_mode == "threading"
    assert config.redis_url is None
    assert config.secret_key is None
    assert config.env_file is None
    assert {config.source_of(name) for name in VARIABLES} == {"default"}


def test_the_environment_beats_the_env_file_which_beats_the_default(workdir: Path, monkeypatch):
    env_file = write_env(
        workdir / ".env", INSTRUMENT_SCAN_INTERVAL="5", AUTO_RECONNECT_ATTEMPTS="7"
    )
    monkeypatch.setenv("INSTRUMENT_SCAN_INTERVAL", "2.5")

    config = current_config()

    assert config.instrument_scan_interval == 2.5
    assert config.source_of("INSTRUMENT_SCAN_INTERVAL") == "environment"
    assert config.auto_reconnect_attempts == 7
    assert config.source_of("AUTO_RECONNECT_ATTEMPTS") == str(env_file)
    assert config.max_buffer_size == 1000
    assert config.source_of("MAX_BUFFER_SIZE") == "default"
    assert config.env_file == env_file


def test_a_blank_value_counts_as_unset(workdir: Path, monkeypatch) -> None:
    write_env(workdir / ".env", MAX_BUFFER_SIZE="50")
    monkeypatch.setenv("MAX_BUFFER_SIZE", "  ")
    monkeypatch.setenv("PYBIRCH_LAB_NAME", "")

    config = current_config()

    assert config.max_buffer_size == 50  # the blank environment value does not hide the file
    assert config.lab_name is None


def test_pybirch_env_file_names_the_file_instead_of_the_current_directory(
    workdir: Path, tmp_path: Path, monkeypatch
) -> None:
    write_env(workdir / ".env", MAX_BUFFER_SIZE="11")
    named = write_env(tmp_path / "lab.env", MAX_BUFFER_SIZE="22", REDIS_URL="redis://cache:6379/1")
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(named))

    config = current_config()

    assert config.max_buffer_size == 22
    assert config.redis_url == "redis://cache:6379/1"
    assert config.env_file == named
    assert config.source_of("REDIS_URL") == str(named)


def test_a_missing_named_env_file_is_an_error(workdir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(tmp_path / "nowhere.env"))

    with pytest.raises(ConfigError) as caught:
        current_config()

    message = str(caught.value)
    assert ENV_FILE_VARIABLE in message
    assert "nowhere.env" in message
    assert "from the environment" in message


def test_current_config_reads_again_when_the_environment_or_the_file_changes(
    workdir: Path, monkeypatch
) -> None:
    first = current_config()
    assert current_config() is first  # nothing changed: no new reading

    monkeypatch.setenv("AUTO_RECONNECT_ATTEMPTS", "9")
    assert current_config().auto_reconnect_attempts == 9

    monkeypatch.delenv("AUTO_RECONNECT_ATTEMPTS")
    env_file = write_env(workdir / ".env", AUTO_RECONNECT_ATTEMPTS="4")
    assert current_config().auto_reconnect_attempts == 4

    write_env(env_file, AUTO_RECONNECT_ATTEMPTS="12", MAX_BUFFER_SIZE="64")
    assert current_config().auto_reconnect_attempts == 12

    env_file.unlink()
    assert current_config().auto_reconnect_attempts == 3


# -- bad values --------------------------------------------------------------------------------

BAD_VALUES = [
    ("INSTRUMENT_SCAN_INTERVAL", "abc", "a number of seconds greater than 0"),
    ("INSTRUMENT_SCAN_INTERVAL", "-5", "a number of seconds greater than 0"),
    ("INSTRUMENT_SCAN_INTERVAL", "0", "a number of seconds greater than 0"),
    ("FLUSH_INTERVAL_SECONDS", "-0.1", "a number of seconds of at least 0"),
    ("SOCKETIO_PING_TIMEOUT", "nan", "a number of seconds greater than 0"),
    ("MAX_BUFFER_SIZE", "0", "a whole number of at least 1"),
    ("MAX_BUFFER_SIZE", "1.5", "a whole number of at least 1"),
    ("AUTO_RECONNECT_ATTEMPTS", "-1", "a whole number of at least 0"),
    ("MAX_SCAN_POINTS", "lots", "a whole number of at least 1"),
    ("DATABASE_URL", "not a url", "a SQLite or PostgreSQL URL"),
    ("DATABASE_URL", "mysql://ada@db/pybirch", "a SQLite or PostgreSQL URL"),
    ("REDIS_URL", "http://cache:6379", "a Redis URL"),
    ("REDIS_URL", "redis://cache:port/0", "a Redis URL"),
    ("SOCKETIO_ASYNC_MODE", "eventlet", "'threading'"),
    ("PYBIRCH_SPOOL_FSYNC", "maybe", "1, true, yes or on"),
]


@pytest.mark.parametrize(("variable", "value", "expected"), BAD_VALUES)
def test_a_bad_environment_value_names_variable_value_origin_and_expectation(
    workdir: Path, monkeypatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as caught:
        current_config()

    assert str(caught.value) == (
        f"bad configuration: {variable}={value!r} (from the environment): expected "
        + caught.value.problems[0].expected
    )
    assert expected in caught.value.problems[0].expected


@pytest.mark.parametrize(("variable", "value", "expected"), BAD_VALUES[::3])
def test_a_bad_env_file_value_names_the_file(
    workdir: Path, variable: str, value: str, expected: str
) -> None:
    env_file = write_env(workdir / ".env", **{variable: value})

    with pytest.raises(ConfigError) as caught:
        current_config()

    message = str(caught.value)
    assert f"{variable}={value!r} (from {env_file})" in message
    assert expected in message


def test_every_bad_value_is_named_at_once_and_passwords_stay_hidden(workdir: Path, monkeypatch):
    write_env(workdir / ".env", DATABASE_URL=f"mysql://ada:{PASSWORD}@db/pybirch")
    monkeypatch.setenv("INSTRUMENT_SCAN_INTERVAL", "soon")
    monkeypatch.setenv("REDIS_URL", f"http://:{PASSWORD}@cache:6379")

    with pytest.raises(ConfigError) as caught:
        current_config()

    message = str(caught.value)
    assert [problem.variable for problem in caught.value.problems] == [
        "DATABASE_URL",
        "REDIS_URL",
        "INSTRUMENT_SCAN_INTERVAL",
    ]
    assert PASSWORD not in message
    assert "mysql://ada:***@db/pybirch" in message
    assert "http://:***@cache:6379" in message


# -- the places that use the configuration ---------------------------------------------------


def test_the_engine_and_storage_take_their_values_from_the_env_file(workdir: Path, tmp_path):
    data = tmp_path / "from-env-file"
    write_env(
        workdir / ".env",
        PYBIRCH_DATA_DIR=str(data),
        MAX_BUFFER_SIZE="64",
        FLUSH_INTERVAL_SECONDS="0.5",
        PYBIRCH_SPOOL_FSYNC="yes",
        PYBIRCH_VISA_BACKEND="@sim",
        PYBIRCH_LAB_NAME="Cryo Lab",
        MAX_SCAN_POINTS="5000",
    )
    # conftest's PYBIRCH_DATA_DIR is in the environment, which wins over the file.
    assert current_config().source_of("PYBIRCH_DATA_DIR") == "environment"

    scan = Scan(ScanSettings(project_name="p", scan_name="configured"))
    assert (scan.buffer_size, scan.flush_interval) == (64, 0.5)
    own = Scan(ScanSettings(project_name="p", scan_name="own"), buffer_size=3, flush_interval=1)
    assert (own.buffer_size, own.flush_interval) == (3, 1)  # a scan's own choice wins
    assert fsync_enabled() is True
    assert default_backend() == "@sim"
    assert default_lab_name() == "Cryo Lab"
    assert max_scan_points() == 5000


def test_data_directory_database_and_drivers_follow_pybirch_data_dir(
    workdir: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv("PYBIRCH_DATA_DIR")
    data = tmp_path / "lab-data"
    write_env(workdir / ".env", PYBIRCH_DATA_DIR=str(data))

    assert default_database_url() == f"sqlite:///{data / 'pybirch.db'}"
    assert data.is_dir()  # made for the SQLite file
    assert default_drivers_dir() == data / "drivers"


def test_the_web_server_takes_its_settings_from_the_env_file(workdir: Path, db) -> None:
    write_env(
        workdir / ".env",
        SECRET_KEY="kept-in-env-file",
        SESSION_COOKIE_SECURE="true",
        LOGIN_ATTEMPTS="3",
        SOCKETIO_PING_INTERVAL="7",
        SOCKETIO_PING_TIMEOUT="9",
    )

    web = WebConfig.from_environment()
    assert (web.secret_key, web.session_cookie_secure, web.login_attempts) == (
        "kept-in-env-file",
        True,
        3,
    )
    app = make_app(db)
    try:
        engine = socketio.server.eio
        assert (engine.ping_interval, engine.ping_timeout) == (7, 9)
        assert engine.async_mode == "threading"
    finally:
        app.extensions["pybirch.station"].close()


def test_the_agent_token_may_come_from_the_env_file(workdir: Path) -> None:
    write_env(workdir / ".env", PYBIRCH_COMPUTER_TOKEN="token-from-file")

    context = agent.make_context("agent", ["--server", "http://lab:8765"])

    assert context.params["token"] == "token-from-file"


# -- pybirch config --------------------------------------------------------------------------


def test_pybirch_config_shows_values_and_sources_with_secrets_masked(
    workdir: Path, tmp_path: Path
) -> None:
    env_file = write_env(
        workdir / ".env",
        DATABASE_URL=f"postgresql://ada:{PASSWORD}@db.lab/pybirch",
        SECRET_KEY=PASSWORD,
        INSTRUMENT_SCAN_INTERVAL="4",
    )

    result = run_cli(
        "config",
        env={"REDIS_URL": f"redis://:{PASSWORD}@cache:6379/0", "PYBIRCH_COMPUTER_TOKEN": PASSWORD},
    )

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    rows = _table_rows(result.output)
    assert rows["DATABASE_URL"] == ["postgresql://ada:***@db.lab/pybirch", str(env_file)]
    assert rows["SECRET_KEY"] == ["***", str(env_file)]
    assert rows["REDIS_URL"] == ["redis://:***@cache:6379/0", "environment"]
    assert rows["PYBIRCH_COMPUTER_TOKEN"] == ["***", "environment"]
    assert rows["INSTRUMENT_SCAN_INTERVAL"] == ["4.0", str(env_file)]
    assert rows["AUTO_RECONNECT_ATTEMPTS"] == ["3", "default"]
    assert rows["MAX_IMAGE_PIXELS"] == ["(unset)", "default"]
    assert set(rows) == set(VARIABLES)
    assert f".env file: {env_file}" in result.output


def test_pybirch_config_json_is_for_programs(workdir: Path) -> None:
    env_file = write_env(workdir / ".env", SECRET_KEY=PASSWORD, MAX_BUFFER_SIZE="250")

    result = run_cli("config", "--json", env={"DATABASE_URL": f"postgresql://u:{PASSWORD}@h/d"})

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    document = json.loads(result.stdout)
    assert document["env_file"] == str(env_file)
    entries = {entry["variable"]: entry for entry in document["variables"]}
    assert list(entries) == VARIABLES
    assert entries["MAX_BUFFER_SIZE"]["value"] == 250
    assert entries["MAX_BUFFER_SIZE"]["source"] == "env_file"
    assert entries["SECRET_KEY"] == {
        "variable": "SECRET_KEY",
        "value": "***",
        "source": "env_file",
        "secret": True,
        "description": entries["SECRET_KEY"]["description"],
        "expected": "text",
    }
    assert entries["DATABASE_URL"]["value"] == "postgresql://u:***@h/d"
    assert entries["DATABASE_URL"]["source"] == "environment"
    assert entries["INSTRUMENT_SCAN_INTERVAL"]["value"] == 10.0
    assert entries["INSTRUMENT_SCAN_INTERVAL"]["source"] == "default"
    assert entries["MAX_IMAGE_PIXELS"]["value"] is None


def test_pybirch_config_warns_when_others_may_read_the_secrets_in_env(workdir: Path) -> None:
    env_file = write_env(workdir / ".env", SECRET_KEY=PASSWORD, MAX_BUFFER_SIZE="9")
    env_file.chmod(0o644)

    shared = run_cli("config")

    assert shared.exit_code == 0, shared.output
    assert shared.stderr == (
        f"Warning: {env_file} holds SECRET_KEY and other users of this computer may read it: "
        f"chmod 600 {env_file}\n"
    )
    env_file.chmod(0o600)
    assert run_cli("config").stderr == ""
    env_file.chmod(0o644)
    write_env(env_file, MAX_BUFFER_SIZE="9")  # no secret in it: nothing to give away
    assert run_cli("config").stderr == ""


def test_a_misspelt_name_in_env_is_pointed_out_and_other_tools_names_left_alone(workdir: Path):
    env_file = write_env(
        workdir / ".env", INSTRUMENT_SCAN_INTERVALL="5", POSTGRES_PASSWORD=PASSWORD, redis_url="x"
    )

    result = run_cli("config", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["warnings"] == [
        f"{env_file} sets INSTRUMENT_SCAN_INTERVALL, which PyBirch does not read: "
        "INSTRUMENT_SCAN_INTERVAL?",
        f"{env_file} sets redis_url, which PyBirch does not read: REDIS_URL?",
    ]
    assert result.stderr.count("Warning: ") == 2
    assert PASSWORD not in result.output  # other tools' values are never shown
    assert current_config().instrument_scan_interval == 10.0  # the misspelt value is not used


@pytest.mark.parametrize(
    "command",
    [["config"], ["config", "--json"], ["db", "current"], ["agent", "--server", "http://lab:1"]],
)
def test_a_bad_value_ends_any_command_with_a_one_line_error(workdir: Path, command) -> None:
    result = run_cli(*command, env={"INSTRUMENT_SCAN_INTERVAL": "abc"})

    assert result.exit_code == 1
    assert result.output == (
        "Error: bad configuration: INSTRUMENT_SCAN_INTERVAL='abc' (from the environment): "
        "expected a number of seconds greater than 0\n"
    )


def test_serve_refuses_a_bad_value_before_it_starts(workdir: Path, tmp_path: Path) -> None:
    write_env(workdir / ".env", SOCKETIO_ASYNC_MODE="gevent")

    result = run_cli("serve", "--port", "0")

    assert result.exit_code == 1
    assert "SOCKETIO_ASYNC_MODE='gevent' (from " in result.output
    assert "expected 'threading'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "pybirch-data" / "pybirch.db").exists()  # stopped before the database


def _table_rows(output: str) -> dict[str, list[str]]:
    """Variable -> [value, source] from rich's table (cells between box-drawing bars)."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 3 and cells[0] in VARIABLES:
            rows[cells[0]] = cells[1:]
    return rows
