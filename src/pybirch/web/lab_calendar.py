"""The day the web counts calibration and maintenance due dates from.

It is the server's calendar day, unless the app was given a clock of its own
(``app.extensions[TODAY_KEY]``, a function returning a date): tests move through the
calendar with it instead of waiting for days to pass.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import current_app

#: ``app.extensions`` key of the function that gives today's date.
TODAY_KEY = "pybirch.today"


def today() -> date:
    """Today, by the app's clock."""
    clock: Callable[[], date] = current_app.extensions.get(TODAY_KEY, date.today)
    return clock()
