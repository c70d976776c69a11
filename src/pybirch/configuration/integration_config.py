"""Every setting PyBirch reads from its environment, with its type, default and meaning.

A field is named for its environment variable, in lower case and without ``PYBIRCH_``
(``INSTRUMENT_SCAN_INTERVAL`` -> ``instrument_scan_interval``, ``PYBIRCH_DATA_DIR`` ->
``data_dir``). Each field's :class:`Variable` (``IntegrationConfig.variables()``) says the
variable's name, how its text is read, its default, what it does and whether it is secret.
:func:`pybirch.configuration.current_config` fills the fields from the environment, a
``.env`` file and these defaults.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import platformdirs

from pybirch.configuration import value_types as types
from pybirch.configuration.masking import MASK, masked_url
from pybirch.configuration.value_types import ValueType

#: Where a value came from, when not from a ``.env`` file (whose path is given instead).
ENVIRONMENT = "environment"
DEFAULT = "default"

#: The SQLite file in the data directory used when ``DATABASE_URL`` is not set.
DEFAULT_DATABASE_NAME = "pybirch.db"
DEFAULT_MAX_SCAN_POINTS = 100_000_000
DEFAULT_FLUSH_INTERVAL = 0.05
#: Ten seconds: a lab member watching the dashboard learns of an unplugged instrument about
#: as fast as they would notice it themselves, while a check of 50 instruments (each a few
#: milliseconds) every ten seconds stays far inside the 1% a running scan may lose to it.
#: The seed's 30-60 s left a scan waiting up to a minute for a reconnect.
DEFAULT_INSTRUMENT_SCAN_INTERVAL = 10.0
DEFAULT_AUTO_RECONNECT_ATTEMPTS = 3

_VARIABLE = "pybirch.variable"

#: A default computed from the values read before it (by field name).
DerivedDefault = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Variable:
    """One environment variable behind a field of :class:`IntegrationConfig`."""

    name: str
    value_type: ValueType
    description: str
    #: The value when the variable is unset or blank, or a function of the fields before it.
    default: Any = None
    secret: bool = False

    def default_from(self, values: Mapping[str, Any]) -> Any:
        """The default, computed from ``values`` (the fields read so far) if it depends on them."""
        return self.default(values) if callable(self.default) else self.default

    def shown(self, value: Any) -> Any:
        """``value`` as it may be printed or logged: secrets masked, paths as text."""
        if value is None:
            return None
        if self.secret:
            return masked_url(str(value)) if self.value_type.is_url else MASK
        return str(value) if isinstance(value, Path) else value


def _variable(
    name: str,
    value_type: ValueType,
    description: str,
    default: Any = None,
    *,
    secret: bool = False,
) -> dict[str, Variable]:
    """A field's metadata: the variable behind it."""
    return {_VARIABLE: Variable(name, value_type, description, default, secret)}


def _user_data_dir(_values: Mapping[str, Any]) -> Path:
    return Path(platformdirs.user_data_dir("pybirch"))


def _sqlite_in_data_dir(values: Mapping[str, Any]) -> str:
    return f"sqlite:///{values['data_dir'] / DEFAULT_DATABASE_NAME}"


def _drivers_in_data_dir(values: Mapping[str, Any]) -> Path:
    return values["data_dir"] / "drivers"


@dataclass(frozen=True)
class IntegrationConfig:
    """PyBirch's effective configuration; every field documents its variable (see the module)."""

    # -- storage (the data directory comes first: other defaults are inside it)
    data_dir: Path = field(
        metadata=_variable(
            "PYBIRCH_DATA_DIR",
            types.PATH,
            "Local data directory: the SQLite file, the spool of unsaved points, drivers, keys.",
            _user_data_dir,
        )
    )
    database_url: str = field(
        metadata=_variable(
            "DATABASE_URL",
            types.DATABASE_URL,
            "The database (SQLite or PostgreSQL URL); unset: pybirch.db in the data directory.",
            _sqlite_in_data_dir,
            secret=True,
        )
    )
    max_buffer_size: int = field(
        metadata=_variable(
            "MAX_BUFFER_SIZE",
            types.whole_number(1),
            "Rows a scan keeps per measurement before writing them as one batch.",
            1000,
        )
    )
    flush_interval_seconds: float = field(
        metadata=_variable(
            "FLUSH_INTERVAL_SECONDS",
            types.number("seconds", above_zero=False),
            "Longest time points wait in a scan's buffer when they come slowly.",
            DEFAULT_FLUSH_INTERVAL,
        )
    )
    spool_fsync: bool = field(
        metadata=_variable(
            "PYBIRCH_SPOOL_FSYNC",
            types.FLAG,
            "Force every spooled record onto the disk (survives power cuts, costs speed).",
            False,
        )
    )
    # -- live events
    redis_url: str | None = field(
        metadata=_variable(
            "REDIS_URL",
            types.REDIS_URL,
            "Redis shared by several server processes for live events; unset: one process.",
            secret=True,
        )
    )
    socketio_ping_interval: float = field(
        metadata=_variable(
            "SOCKETIO_PING_INTERVAL",
            types.number("seconds"),
            "Seconds between Socket.IO pings to each browser and agent.",
            25.0,
        )
    )
    socketio_ping_timeout: float = field(
        metadata=_variable(
            "SOCKETIO_PING_TIMEOUT",
            types.number("seconds"),
            "Seconds without a pong before a Socket.IO connection counts as lost.",
            60.0,
        )
    )
    socketio_async_mode: str = field(
        metadata=_variable(
            "SOCKETIO_ASYNC_MODE",
            types.ASYNC_MODE,
            "Flask-SocketIO's async mode; pybirch serve runs threads, so only 'threading'.",
            "threading",
        )
    )
    # -- instruments and computers
    instrument_scan_interval: float = field(
        metadata=_variable(
            "INSTRUMENT_SCAN_INTERVAL",
            types.number("seconds"),
            "Seconds between health checks of each station's instruments.",
            DEFAULT_INSTRUMENT_SCAN_INTERVAL,
        )
    )
    auto_reconnect_attempts: int = field(
        metadata=_variable(
            "AUTO_RECONNECT_ATTEMPTS",
            types.whole_number(0),
            "Times a lost instrument is reconnected (with back-off) before it stays lost.",
            DEFAULT_AUTO_RECONNECT_ATTEMPTS,
        )
    )
    drivers_dir: Path = field(
        metadata=_variable(
            "PYBIRCH_DRIVERS_DIR",
            types.PATH,
            "Folder of local driver files; unset: drivers in the data directory.",
            _drivers_in_data_dir,
        )
    )
    visa_backend: str = field(
        metadata=_variable(
            "PYBIRCH_VISA_BACKEND",
            types.TEXT,
            "VISA backend for instruments that name none (e.g. @py, @sim); unset: PyVISA's.",
            "",
        )
    )
    computer_name: str | None = field(
        metadata=_variable(
            "PYBIRCH_COMPUTER_NAME",
            types.STRIPPED_TEXT,
            "This computer's name for the server; unset: its host name.",
        )
    )
    computer_id: str | None = field(
        metadata=_variable(
            "PYBIRCH_COMPUTER_ID",
            types.STRIPPED_TEXT,
            "This computer's id; unset: derived from the machine id.",
        )
    )
    computer_token: str | None = field(
        metadata=_variable(
            "PYBIRCH_COMPUTER_TOKEN",
            types.STRIPPED_TEXT,
            "The token pybirch agent connects with (the server's Computers page).",
            secret=True,
        )
    )
    # -- web server
    lab_name: str | None = field(
        metadata=_variable(
            "PYBIRCH_LAB_NAME",
            types.TEXT,
            "Lab made on a server's first start, and the lab commands use; unset: My Lab.",
        )
    )
    max_scan_points: int = field(
        metadata=_variable(
            "MAX_SCAN_POINTS",
            types.whole_number(1),
            "Most points a scan built in the browser may take.",
            DEFAULT_MAX_SCAN_POINTS,
        )
    )
    secret_key: str | None = field(
        metadata=_variable(
            "SECRET_KEY",
            types.TEXT,
            "Key signing sessions; unset: a random key kept in the data directory.",
            secret=True,
        )
    )
    login_attempts: int = field(
        metadata=_variable(
            "LOGIN_ATTEMPTS",
            types.whole_number(1),
            "Failed logins allowed per user name and address within the login window.",
            5,
        )
    )
    login_address_attempts: int = field(
        metadata=_variable(
            "LOGIN_ADDRESS_ATTEMPTS",
            types.whole_number(1),
            "Failed logins allowed per address, whatever the user names, in the window.",
            20,
        )
    )
    login_window_seconds: float = field(
        metadata=_variable(
            "LOGIN_WINDOW_SECONDS",
            types.number("seconds"),
            "The window in which failed logins are counted.",
            300.0,
        )
    )
    password_hash_concurrency: int = field(
        metadata=_variable(
            "PASSWORD_HASH_CONCURRENCY",
            types.whole_number(1),
            "Password hashes (about 64 MiB each) computed at once.",
            2,
        )
    )
    password_hash_waiting: int = field(
        metadata=_variable(
            "PASSWORD_HASH_WAITING",
            types.whole_number(0),
            "Password checks allowed to wait for a free slot; beyond that, 503.",
            8,
        )
    )
    password_hash_wait_seconds: float = field(
        metadata=_variable(
            "PASSWORD_HASH_WAIT_SECONDS",
            types.number("seconds"),
            "Longest wait for a password check before the answer is 503.",
            10.0,
        )
    )
    session_cookie_secure: bool = field(
        metadata=_variable(
            "SESSION_COOKIE_SECURE",
            types.FLAG,
            "Mark the session cookie Secure even on plain HTTP requests.",
            False,
        )
    )
    session_lifetime_hours: float = field(
        metadata=_variable(
            "SESSION_LIFETIME_HOURS",
            types.number("hours"),
            "A session ends this long after its last request.",
            12.0,
        )
    )
    behind_proxy: bool = field(
        metadata=_variable(
            "PYBIRCH_BEHIND_PROXY",
            types.FLAG,
            "Believe one reverse proxy's X-Forwarded-* headers (only with a proxy in front).",
            False,
        )
    )
    max_content_length: int = field(
        metadata=_variable(
            "MAX_CONTENT_LENGTH",
            types.whole_number(1),
            "Largest request body in bytes; larger ones get 413.",
            16 * 1024 * 1024,
        )
    )
    max_image_pixels: int | None = field(
        metadata=_variable(
            "MAX_IMAGE_PIXELS",
            types.whole_number(1),
            "Largest sample picture (width x height); unset: the picture codec's limit.",
        )
    )
    #: Where each variable's value came from: ``ENVIRONMENT``, ``DEFAULT`` or a .env path.
    sources: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )
    #: The ``.env`` file that was read, if any.
    env_file: Path | None = field(default=None, compare=False)
    #: Names the .env file sets that are no PyBirch variable (other tools' or misspelt ones).
    unknown_in_env_file: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def variables(cls) -> tuple[tuple[str, Variable], ...]:
        """Every (field name, variable) in display order."""
        return tuple(
            (item.name, item.metadata[_VARIABLE])
            for item in dataclasses.fields(cls)
            if _VARIABLE in item.metadata
        )

    def source_of(self, variable_name: str) -> str:
        """Where ``variable_name``'s value came from: environment, default or a .env path."""
        return self.sources.get(variable_name, DEFAULT)
