"""The column layout of a measurement: what each stored column is and holds.

A measurement's rows carry *data* columns (a value per row: a reading, a spectrum's
wavelength), *position* columns (the commanded position of each ancestor movement, a
value per point) and a *timestamp* (a value per point). Per-point columns are stored
once per point however many rows a point has.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from pybirch.database.errors import DataIntegrityError

ColumnKind = Literal["data", "position", "timestamp"]
KINDS: tuple[str, ...] = ("data", "position", "timestamp")

#: Names of the bookkeeping columns every read returns.
POINT_INDEX = "point_index"
TIMESTAMP = "timestamp"

_LABEL = re.compile(r"^(?P<name>.*?)\s*\((?P<unit>[^()]*)\)$")


@dataclass(frozen=True)
class ColumnSpec:
    """One stored column: its label ``name (unit)``, kind and dtype."""

    label: str
    kind: ColumnKind = "data"
    dtype: str = "float64"

    @property
    def name(self) -> str:
        """The label without its unit."""
        match = _LABEL.match(self.label)
        return match["name"] if match else self.label

    @property
    def unit(self) -> str:
        """The unit in the label's parentheses, or ''."""
        match = _LABEL.match(self.label)
        return match["unit"] if match else ""

    @property
    def per_point(self) -> bool:
        """True for columns with one value per point rather than per row."""
        return self.kind != "data"

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as kept in ``MeasurementObject.columns``."""
        return {**asdict(self), "name": self.name, "unit": self.unit}


@dataclass(frozen=True)
class Layout:
    """Every stored column of a measurement, in storage order."""

    columns: tuple[ColumnSpec, ...]

    @classmethod
    def build(
        cls,
        data_columns: list[str],
        position_columns: list[str] | None = None,
        dtypes: dict[str, str] | None = None,
    ) -> Layout:
        """Data columns, then positions, then the timestamp."""
        dtypes = dtypes or {}
        specs = [ColumnSpec(label, "data", dtypes.get(label, "float64")) for label in data_columns]
        specs += [ColumnSpec(label, "position") for label in position_columns or []]
        specs.append(ColumnSpec(TIMESTAMP, "timestamp"))
        layout = cls(tuple(specs))
        layout.check()
        return layout

    @classmethod
    def from_json(cls, columns: list[dict[str, Any]]) -> Layout:
        """The layout kept in ``MeasurementObject.columns``."""
        try:
            return cls(tuple(ColumnSpec(c["label"], c["kind"], c["dtype"]) for c in columns))
        except (KeyError, TypeError) as exc:
            raise DataIntegrityError(f"malformed measurement column layout: {columns!r}") from exc

    def to_json(self) -> list[dict[str, Any]]:
        """JSON form for ``MeasurementObject.columns``."""
        return [spec.to_dict() for spec in self.columns]

    def check(self) -> None:
        """Raise :class:`DataIntegrityError` for duplicate labels, bad kinds or dtypes."""
        labels = [spec.label for spec in self.columns]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise DataIntegrityError(f"duplicate column labels {duplicates}")
        if POINT_INDEX in labels:
            raise DataIntegrityError(f"{POINT_INDEX!r} is computed on read; do not store it")
        for spec in self.columns:
            if spec.kind not in KINDS:
                raise DataIntegrityError(f"column {spec.label!r} has unknown kind {spec.kind!r}")
            if np.dtype(spec.dtype).kind not in "biuf":
                raise DataIntegrityError(
                    f"column {spec.label!r} has dtype {spec.dtype}; only numbers are stored"
                )

    @property
    def labels(self) -> list[str]:
        """Every column label in storage order."""
        return [spec.label for spec in self.columns]

    @property
    def data_labels(self) -> list[str]:
        """Labels of the per-row data columns."""
        return [spec.label for spec in self.columns if spec.kind == "data"]

    @property
    def position_labels(self) -> list[str]:
        """Labels of the position columns, outermost movement first."""
        return [spec.label for spec in self.columns if spec.kind == "position"]

    def index(self, label: str) -> int:
        """Position of ``label`` in storage order."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise DataIntegrityError(
                f"no column {label!r}; the measurement has {self.labels}"
            ) from None

    def units(self) -> dict[str, str]:
        """Unit of every column by label."""
        return {spec.label: spec.unit for spec in self.columns}
