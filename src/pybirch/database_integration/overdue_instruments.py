"""A scan on an instrument whose calibration or maintenance is overdue: warned, or refused.

Every scan record is made through :class:`~pybirch.database_integration.ScanManager`, so the
web's builder, lab computers and Python scripts all get the same answer. By default the
scan runs and its record says so (``extra_data["equipment_warnings"]`` and a scan log line
such as ``Lock-in calibration overdue since 2026-10-01``); a lab that chose to block such
scans gets :class:`OverdueInstrumentError` when the scan is queued, before any record.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pybirch.database.services.equipment_care import OverdueInstrument
from pybirch.scan.design import DesignError

#: The key of a scan record's ``extra_data`` that lists its overdue instruments.
WARNINGS_KEY = "equipment_warnings"


class OverdueInstrumentError(DesignError):
    """The lab refuses scans on overdue instruments, and this scan uses one.

    ``overdue`` lists each instrument, what is overdue and since when. As a
    :class:`DesignError` its ``errors`` name each instrument's field of the scan builder
    (``settings_<name>``), so the web shows the refusal beside that instrument.
    """

    def __init__(self, overdue: list[OverdueInstrument]) -> None:
        by_name: dict[str, list[str]] = defaultdict(list)
        for item in overdue:
            by_name[item.name].append(item.describe())
        policy = "this lab blocks scans on overdue instruments"
        super().__init__(
            {f"settings_{name}": f"{'; '.join(texts)}: {policy}" for name, texts in by_name.items()}
        )
        #: What is overdue, instrument by instrument.
        self.overdue = overdue
        self.args = (f"{'; '.join(i.describe() for i in overdue)}: {policy}",)

    def __str__(self) -> str:
        return str(self.args[0])


def warning_documents(overdue: list[OverdueInstrument]) -> list[dict[str, Any]]:
    """What a scan record keeps of each overdue instrument (JSON)."""
    return [
        {
            "instrument_id": item.instrument_id,
            "instrument": item.name,
            "computer": item.computer,
            "kind": item.kind,
            "due": item.due.isoformat(),
            "message": item.describe(),
        }
        for item in overdue
    ]
