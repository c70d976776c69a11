"""Alembic migrations of the PyBirch schema (run them with ``pybirch db upgrade``)."""
