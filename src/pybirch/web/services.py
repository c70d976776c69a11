"""Reaching the app's DatabaseService from a request."""

from __future__ import annotations

from flask import current_app

from pybirch.database import DatabaseService

EXTENSION_KEY = "pybirch.database"


def database() -> DatabaseService:
    """The DatabaseService of the running app."""
    return current_app.extensions[EXTENSION_KEY]
