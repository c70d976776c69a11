"""An instrument's page: what members did to it by hand, and the scans it took part in.

A scan records its instruments by name (``driver_versions``, one entry per instrument)
and runs in a queue of one computer (the queue's ``extra_data["computer_id"]``). Names
are unique per computer, not per lab, so an instrument took part in a scan when the scan
names it *and* ran on a computer it is bound to.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select

from pybirch.database.errors import DatabaseError
from pybirch.database.models import Instrument, Queue, Scan
from pybirch.database.models.instrument_actions import (
    ACTION_OUTCOMES,
    MANUAL_ACTIONS,
    InstrumentAction,
)
from pybirch.database.services.core import ServiceCore
from pybirch.database.services.instruments import newest_of_instrument
from pybirch.database.services.paging import Page
from pybirch.database.services.scans import scan_loading


class InstrumentActionsMixin(ServiceCore):
    """Record manual actions on instruments; find the scans an instrument took part in."""

    def record_instrument_action(
        self,
        instrument_id: int,
        action: str,
        outcome: str,
        *,
        computer_id: int | None = None,
        request: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        message: str | None = None,
        user_id: int | None = None,
    ) -> InstrumentAction:
        """Keep who did what to the instrument, where, and how it went."""
        if action not in MANUAL_ACTIONS:
            raise DatabaseError(f"unknown manual action {action!r}; use one of {MANUAL_ACTIONS}")
        if outcome not in ACTION_OUTCOMES:
            raise DatabaseError(f"unknown outcome {outcome!r}; use one of {ACTION_OUTCOMES}")
        return self._create(
            InstrumentAction,
            instrument_id=instrument_id,
            computer_id=computer_id,
            action=action,
            request=dict(request or {}),
            outcome=outcome,
            result=dict(result or {}),
            message=message,
            created_by_id=user_id,
        )

    def get_instrument_actions(self, instrument_id: int, limit: int = 50) -> list[InstrumentAction]:
        """The newest ``limit`` manual actions on the instrument, newest first."""
        with self.session() as session:
            return newest_of_instrument(session, InstrumentAction, instrument_id, limit)

    def scans_with_instrument(
        self,
        instrument: Instrument,
        computer_ids: Collection[int],
        *,
        page: int = 1,
        per_page: int = 20,
    ) -> Page[Scan]:
        """The instrument's lab's scans that used it on one of ``computer_ids``, newest first."""
        if not computer_ids:
            return Page([], 0, page, per_page)
        statement = (
            select(Scan)
            .join(Queue, Scan.queue_id == Queue.id)
            .where(
                Scan.lab_id == instrument.lab_id,
                Scan.driver_versions[instrument.name].as_string().is_not(None),
                Queue.extra_data["computer_id"].as_integer().in_(list(computer_ids)),
            )
            .options(*scan_loading(False, raise_on_access=False))
            .order_by(Scan.created_at.desc(), Scan.id.desc())
        )
        return self._search(statement, page=page, per_page=per_page)
