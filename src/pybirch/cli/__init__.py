"""The ``pybirch`` command."""
