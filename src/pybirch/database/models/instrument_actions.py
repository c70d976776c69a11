"""What members did to instruments by hand: who moved, read or set up which, and how it went."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pybirch.database.models.base import Base, BigId, Created

#: The manual actions a member takes on an instrument's page.
MANUAL_ACTIONS = ("move", "measure", "apply_settings")
#: How one ended: done, refused by the station (a scan holds it...), or failed in the instrument.
ACTION_OUTCOMES = ("done", "refused", "failed")


class InstrumentAction(Base, Created):
    """One manual action on an instrument: who (``created_by_id``), when, what, where, result.

    Kept apart from the status history: a status is what an instrument *is*; an action is
    what a person *did* to it, and the lab may need to know who moved the stage.
    """

    __tablename__ = "instrument_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(
        ForeignKey("instruments.id", ondelete="CASCADE"), index=True
    )
    #: The computer whose station carried it out (None once that computer is removed).
    computer_id: Mapped[int | None] = mapped_column(
        ForeignKey("computers.id", ondelete="SET NULL"), default=None
    )
    #: One of :data:`MANUAL_ACTIONS`.
    action: Mapped[str] = mapped_column(String(20))
    #: What was asked: ``{"position": 12.5}``, ``{"settings": {...}}``, ``{}``.
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: One of :data:`ACTION_OUTCOMES`.
    outcome: Mapped[str] = mapped_column(String(20))
    #: What came back (a position, a reading's shape, the settings now set).
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Why it was refused or failed, as the user saw it.
    message: Mapped[str | None] = mapped_column(Text, default=None)
