"""Who this computer is: its host name, a stable id, its OS user and its operating system.

The id is stable across calls, restarts and re-registrations: it is derived from the
operating system's machine id (``/etc/machine-id`` and the like), keyed with a PyBirch
specific secret so the raw machine id, which other software may trust, is never
published (systemd's advice for ``machine-id``). A machine without one gets a random id
stored once in the data directory. ``PYBIRCH_COMPUTER_NAME`` and ``PYBIRCH_COMPUTER_ID``
override both, so one machine can play several computers (tests, demos).
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import logging
import os
import platform
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

from pybirch.configuration import current_config
from pybirch.database.config import data_dir

log = logging.getLogger(__name__)

#: Key of the HMAC that turns the machine id into PyBirch's computer id.
APP_KEY = b"pybirch computer id v1"
#: Where Linux (systemd or D-Bus) and the BSDs keep a machine id.
MACHINE_ID_FILES = (
    Path("/etc/machine-id"),
    Path("/var/lib/dbus/machine-id"),
    Path("/etc/hostid"),
)
#: File in the data directory holding the random id of a machine without a machine id.
STORED_ID_FILE = "computer-id"
#: Seconds to wait for a tool asked for the machine id (macOS ``ioreg``).
TOOL_TIMEOUT_S = 5.0


def get_computer_info() -> dict[str, str | None]:
    """This computer: ``computer_name``, ``computer_id``, ``username``, ``os``, ``platform``."""
    return {
        "computer_name": current_config().computer_name or socket.gethostname(),
        "computer_id": computer_id(),
        "username": _username(),
        "os": platform.system() or None,
        "platform": platform.platform(),
    }


def computer_id() -> str:
    """This computer's stable id: the override, the keyed machine id, or the stored one."""
    override = current_config().computer_id
    if override:
        return override
    machine = machine_id()
    if machine is not None:
        return hmac.new(APP_KEY, machine.encode(), hashlib.sha256).hexdigest()[:32]
    return _stored_id()


def machine_id() -> str | None:
    """The operating system's own machine id (never published as is), or None."""
    if sys.platform == "win32":
        return _windows_machine_guid()
    if sys.platform == "darwin":
        return _macos_platform_uuid()
    for path in MACHINE_ID_FILES:
        try:
            text = path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            continue
        # An unset systemd machine id reads "uninitialized" (first boot) or is empty.
        if text and text != "uninitialized" and set(text) != {"0"}:
            return text
    return None


def _windows_machine_guid() -> str | None:
    try:
        import winreg  # only on Windows

        with winreg.OpenKey(  # type: ignore[attr-defined]
            winreg.HKEY_LOCAL_MACHINE,  # type: ignore[attr-defined]
            r"SOFTWARE\Microsoft\Cryptography",
            0,
            winreg.KEY_READ | winreg.KEY_WOW64_64KEY,  # type: ignore[attr-defined]
        ) as key:
            value, _ = winreg.QueryValueEx(key, "MachineGuid")  # type: ignore[attr-defined]
    except OSError:
        return None
    return str(value).strip() or None


def _macos_platform_uuid() -> str | None:
    try:
        output = subprocess.run(
            ["/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice"],
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_S,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'"IOPlatformUUID"\s*=\s*"([^"]+)"', output)
    return found.group(1) if found else None


def _stored_id() -> str:
    """A random id made once and kept in the data directory (for machines without an id)."""
    path = data_dir() / STORED_ID_FILE
    if not path.exists():
        made = uuid.uuid4().hex
        draft = path.with_name(f".{STORED_ID_FILE}-{made}")
        draft.write_text(made + "\n", encoding="ascii")
        try:
            # A hard link appears whole and never replaces a file: of two processes
            # starting at once, both keep the first one's id.
            os.link(draft, path)
            log.info("this computer has no machine id; made %s in %s", made, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(draft, path)
        finally:
            draft.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()


def _username() -> str | None:
    try:
        return getpass.getuser() or None
    except (OSError, KeyError):  # no USER variable and no password entry (some containers)
        return None
