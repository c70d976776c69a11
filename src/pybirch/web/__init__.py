"""The web UI and API: a Flask app over the database (see :func:`create_app`)."""

from pybirch.web.app import create_app

__all__ = ["create_app"]
