"""What a scan does when an instrument stops answering: pause, wait for the reconnect, resume.

The rule
--------
A movement or a measurement raises an error that means its instrument stopped answering
(:func:`~pybirch.instruments.connection_loss.is_connection_loss`: a VISA timeout or lost
link, an ``OSError`` of the adapter, :class:`~pybirch.instruments.InstrumentDisconnectedError`),
raised inside that instrument's own code, and the scan has a :data:`Reconnector` (a
station's health monitor gives one to every scan it runs). Then:

1. The point is not recorded. The rows before it are delivered, the extensions hear
   ``on_pause`` and the scan is PAUSED; :attr:`Scan.waiting_for` names the instrument and
   the error, and the queue's log says so.
2. The reconnector is asked to bring the instrument back, and the scan waits. A resume
   request does not end the wait (resuming needs the instrument); an abort does.
3. Once it answers, the scan initializes the instrument again and gives it its settings
   (it may have been switched off), commands the positions it holds again, resumes, and
   measures the same point again: no hole and no duplicate in the data.
4. If the reconnector gives up, the scan fails with the reconnector's error (the loss is its
   cause). If one point loses an instrument :data:`MAX_LOSSES_PER_POINT` times in a row
   (it answers the health check, but not that command), the scan fails with the error.

Without a reconnector (a scan run by itself, with no station), and for every other error,
the scan fails as always. Nothing here runs per point: the engine's loops catch errors
around the calls they already make, which costs nothing until one is raised (Python 3.11).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pybirch.instruments.base import Instrument
from pybirch.instruments.connection_loss import is_connection_loss

#: ``reply(None)`` once the instrument answers again, ``reply(error)`` on giving up.
Reply = Callable[[BaseException | None], None]
#: ``reconnector(instrument, error, reply)``: starts bringing ``instrument`` back and returns
#: at once; calls ``reply`` exactly once, from any thread.
Reconnector = Callable[[Instrument, BaseException, Reply], None]

#: Losses of an instrument at one point, each after it came back, before the scan fails.
MAX_LOSSES_PER_POINT = 3


@dataclass(frozen=True)
class LossHandling:
    """What the engine needs from its scan to pause for a lost instrument."""

    reconnect: Reconnector
    #: ``note(instrument, error)`` as the scan waits for it; ``note(instrument, None)`` once back.
    note: Callable[[Instrument, BaseException | None], None]
    #: Initializes a reconnected instrument again and gives it its settings.
    restore: Callable[[Instrument], None]
    #: Points taken so far: tells a loss at a new point from one at the same point.
    points_done: Callable[[], int]


def lost_instrument(error: BaseException, suspects: Iterable[Instrument]) -> Instrument | None:
    """The suspect whose own code raised ``error``, if ``error`` is a connection loss.

    An ``OSError`` raised by PyBirch's own bookkeeping (a full disk under the point journal)
    is no instrument's loss: the error must come from inside a method of the instrument.
    """
    if not is_connection_loss(error):
        return None
    candidates = list(suspects)
    trace = error.__traceback__
    while trace is not None:
        owner = trace.tb_frame.f_locals.get("self")
        for instrument in candidates:
            if owner is instrument:
                return instrument
        trace = trace.tb_next
    return None


class LossCounter:
    """Counts losses at one point, so that an instrument failing one command ends the scan."""

    def __init__(self, points_done: Callable[[], int]) -> None:
        self._points_done = points_done
        self._point = -1
        self._count = 0

    def count(self, error: BaseException) -> None:
        """Count a loss at the current point; raise ``error`` if it is one too many."""
        point = self._points_done()
        self._count = self._count + 1 if point == self._point else 1
        self._point = point
        if self._count > MAX_LOSSES_PER_POINT:
            raise error
