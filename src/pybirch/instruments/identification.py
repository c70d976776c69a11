"""Which driver fits an instrument, from its ``*IDN?`` answer.

IEEE 488.2 instruments answer ``*IDN?`` with four comma-separated fields: manufacturer,
model, serial number and firmware version. A driver class declares the answers it drives in
its ``identification`` class attribute: a regular expression searched (``re.search``) in
the whole answer, so anchor it (``^``) and escape dots where that matters.

When several drivers match, the most specific wins, decided in this order:

1. the longest matched text: a pattern that pins down more of the answer
   (``^KEITHLEY INSTRUMENTS INC\\.,MODEL 2400,`` over ``^KEITHLEY``) knows the instrument
   better. For that reason, do not pad a pattern with ``.*``: it would "match" text it
   says nothing about and outrank more precise drivers;
2. the more derived class (the longer MRO), so a subclass that refines a driver beats the
   driver it inherits its pattern from;
3. the import path, alphabetically, so the choice never depends on import order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pybirch.instruments.base import Instrument
from pybirch.instruments.registry import instrument_class_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """The four fields of an ``*IDN?`` answer; a field the answer lacks is None."""

    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None


def parse_idn(answer: str) -> Identity:
    """Split an ``*IDN?`` answer into manufacturer, model, serial and firmware."""
    # maxsplit=3: firmware strings may themselves contain commas
    fields = [field.strip() or None for field in answer.strip().split(",", 3)]
    fields += [None] * (4 - len(fields))
    return Identity(*fields)


def matching_drivers(idn: str, classes: Iterable[type[Instrument]]) -> list[type[Instrument]]:
    """Every class whose ``identification`` matches ``idn``, most specific first."""
    ranked: list[tuple[int, int, str, type[Instrument]]] = []
    for cls in classes:
        pattern = getattr(cls, "identification", None)
        if pattern is None:
            continue
        try:
            found = re.search(pattern, idn)
        except (re.error, TypeError) as exc:
            # set after the class statement (which checks it), so report and go on: one bad
            # driver must not hide the others
            log.warning(
                "%s.identification = %r is not a regular expression: %s",
                instrument_class_path(cls),
                pattern,
                exc,
            )
            continue
        if found is not None:
            path = instrument_class_path(cls)
            ranked.append((-(found.end() - found.start()), -len(cls.__mro__), path, cls))
    ranked.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in ranked]


def match_driver(idn: str, classes: Iterable[type[Instrument]]) -> type[Instrument] | None:
    """The most specific class whose ``identification`` matches ``idn`` (module docstring)."""
    found = matching_drivers(idn, classes)
    return found[0] if found else None
