"""Placeholder replaced by the computers helper's package (get_computer_info)."""

import getpass
import platform
import socket


def get_computer_info() -> dict:
    """Temporary until merge."""
    return {
        "computer_name": socket.gethostname(),
        "platform": platform.platform(),
        "username": getpass.getuser(),
    }
