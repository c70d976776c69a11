"""Reading the configuration: the environment first, then a ``.env`` file, then defaults.

The ``.env`` file is the one ``PYBIRCH_ENV_FILE`` names, else ``.env`` in the current
directory if there is one. A blank value counts as unset. :func:`current_config` reads
again whenever a variable, the current directory or the file changed, so code may call it
where it needs a value (tests that set variables see them at once) for a few microseconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dotenv import dotenv_values

from pybirch.configuration.errors import ConfigError, ConfigProblem
from pybirch.configuration.integration_config import (
    DEFAULT,
    ENVIRONMENT,
    IntegrationConfig,
    Variable,
)

#: Names the ``.env`` file to read instead of ``.env`` in the current directory.
ENV_FILE_VARIABLE = "PYBIRCH_ENV_FILE"
ENV_FILE_NAME = ".env"
#: Besides PyBirch's own variables, what the default data directory depends on.
_PLATFORM_VARIABLES = ("HOME", "XDG_DATA_HOME", "LOCALAPPDATA")

#: Every variable the configuration depends on, for :func:`current_config`'s check.
_INPUT_VARIABLES = (
    ENV_FILE_VARIABLE,
    *_PLATFORM_VARIABLES,
    *(variable.name for _field, variable in IntegrationConfig.variables()),
)

_last: tuple[tuple[Any, ...], IntegrationConfig] | None = None


def current_config() -> IntegrationConfig:
    """The configuration in force now (read again only when its inputs changed)."""
    global _last
    key = _fingerprint()
    last = _last
    if last is not None and last[0] == key:
        return last[1]
    config = load_config()
    _last = (key, config)
    return config


def load_config(environ: Mapping[str, str] | None = None) -> IntegrationConfig:
    """Read every variable from ``environ`` (default ``os.environ``), the .env file, defaults.

    Raises :class:`ConfigError` naming every bad value, where it came from and what it
    should be.
    """
    environ = os.environ if environ is None else environ
    env_file = env_file_path(environ)
    from_file = read_env_file(env_file, environ) if env_file is not None else {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    problems: list[ConfigProblem] = []
    for field_name, variable in IntegrationConfig.variables():
        text, origin = _text_of(variable.name, environ, from_file, env_file)
        if text is None:
            try:
                values[field_name] = variable.default_from(values)
            except KeyError:  # depends on a field that was refused (and reported) above
                continue
            sources[variable.name] = DEFAULT
            continue
        try:
            values[field_name] = variable.value_type.parse(text)
        except ValueError:
            problems.append(_problem(variable, text, origin))
            continue
        sources[variable.name] = ENVIRONMENT if origin == ENVIRONMENT else str(env_file)
    if problems:
        raise ConfigError(problems)
    return IntegrationConfig(
        **values,
        sources=MappingProxyType(sources),
        env_file=env_file,
        unknown_in_env_file=tuple(sorted(set(from_file) - set(_INPUT_VARIABLES))),
    )


def env_file_path(environ: Mapping[str, str]) -> Path | None:
    """The .env file to read: the one ``PYBIRCH_ENV_FILE`` names, else ./.env if it exists."""
    named = environ.get(ENV_FILE_VARIABLE, "").strip()
    if named:
        return Path(named).expanduser()
    try:
        candidate = Path.cwd() / ENV_FILE_NAME
    except FileNotFoundError:  # the current directory was removed: it holds no .env
        return None
    return candidate if candidate.is_file() else None


def read_env_file(path: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables ``path`` sets (blank ones left out); ConfigError if it cannot be read."""
    try:
        with path.open(encoding="utf-8") as stream:
            pairs = dotenv_values(stream=stream)
    except (OSError, UnicodeDecodeError) as exc:
        named = environ.get(ENV_FILE_VARIABLE, "").strip()
        raise ConfigError(
            [
                ConfigProblem(
                    ENV_FILE_VARIABLE if named else ENV_FILE_NAME,
                    str(path),
                    "the environment" if named else "the current directory",
                    f"a readable UTF-8 .env file ({exc.__class__.__name__}: {exc})",
                )
            ]
        ) from exc
    return {name: value for name, value in pairs.items() if value is not None and value.strip()}


def _text_of(
    name: str, environ: Mapping[str, str], from_file: Mapping[str, str], env_file: Path | None
) -> tuple[str | None, str]:
    """The variable's text and its origin; the environment wins over the file."""
    text = environ.get(name)
    if text is not None and text.strip():
        return text, ENVIRONMENT
    if name in from_file:
        return from_file[name], str(env_file)
    return None, DEFAULT


def _problem(variable: Variable, text: str, origin: str) -> ConfigProblem:
    shown = variable.shown(text)
    where = "the environment" if origin == ENVIRONMENT else origin
    return ConfigProblem(variable.name, shown, where, variable.value_type.expected)


def _fingerprint() -> tuple[Any, ...]:
    """Everything the configuration is read from, cheaply: variables, folder, file's stamp."""
    environment = tuple(os.environ.get(name) for name in _INPUT_VARIABLES)
    path = env_file_path(os.environ)
    if path is None:
        return environment, None, None
    try:
        stat = path.stat()
    except OSError:
        return environment, str(path), None
    return environment, str(path), (stat.st_mtime_ns, stat.st_size, stat.st_ino)
