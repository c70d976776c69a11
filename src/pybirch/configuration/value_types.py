"""How the text of an environment variable becomes a typed value, or why it cannot."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

#: Flask-SocketIO's modes that run under ``pybirch serve`` (gunicorn's threaded worker with
#: simple-websocket). eventlet, gevent and gevent_uwsgi need servers of their own.
SERVED_ASYNC_MODES = ("threading",)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class ValueType:
    """A kind of value: what a good one looks like, and how text becomes one."""

    #: Shown when a value is refused, after "expected".
    expected: str
    #: Turns the variable's text into the value; raises ValueError for text it refuses.
    parse: Callable[[str], Any]
    #: A URL: as a secret, only its password is hidden.
    is_url: bool = False


def whole_number(minimum: int) -> ValueType:
    """Integers of at least ``minimum``."""

    def parse(text: str) -> int:
        value = int(text.strip())
        if value < minimum:
            raise ValueError(f"{value} < {minimum}")
        return value

    return ValueType(f"a whole number of at least {minimum}", parse)


def number(unit: str, *, above_zero: bool = True) -> ValueType:
    """Finite numbers of ``unit``, greater than zero (or at least zero)."""

    def parse(text: str) -> float:
        value = float(text.strip())
        if not math.isfinite(value) or value < 0 or (above_zero and value == 0):
            raise ValueError(f"{value} out of range")
        return value

    bound = "greater than 0" if above_zero else "of at least 0"
    return ValueType(f"a number of {unit} {bound}", parse)


def _flag(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(word)


def _path(text: str) -> Path:
    return Path(text).expanduser()


def _database_url(text: str) -> str:
    # Imported here: processes that never name a database need not load SQLAlchemy.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text.strip())
    except ArgumentError as exc:
        raise ValueError(str(exc)) from exc
    if url.get_backend_name() not in ("sqlite", "postgresql", "postgres"):
        raise ValueError(f"unsupported database {url.get_backend_name()!r}")
    return text.strip()


def _redis_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"scheme {parts.scheme!r}")
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError("no host")
    _ = parts.port  # raises ValueError for a port that is not a number in range
    return text.strip()


def _async_mode(text: str) -> str:
    mode = text.strip()
    if mode not in SERVED_ASYNC_MODES:
        raise ValueError(mode)
    return mode


FLAG = ValueType("1, true, yes or on (or 0, false, no, off)", _flag)
TEXT = ValueType("text", str)
STRIPPED_TEXT = ValueType("text", str.strip)
PATH = ValueType("a folder path", _path)
DATABASE_URL = ValueType(
    "a SQLite or PostgreSQL URL such as sqlite:///path/pybirch.db or "
    "postgresql://user:password@host/database",
    _database_url,
    is_url=True,
)
REDIS_URL = ValueType(
    "a Redis URL such as redis://host:6379/0, rediss://... or unix:///path/redis.sock",
    _redis_url,
    is_url=True,
)
ASYNC_MODE = ValueType(
    "'threading': pybirch serve runs gunicorn's threaded worker with simple-websocket, "
    "where eventlet, gevent and gevent_uwsgi cannot run",
    _async_mode,
)
