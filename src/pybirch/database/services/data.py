"""Measurement data: measurement objects, chunk writes, range reads and the seed's row API."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from pybirch.database.errors import DataIntegrityError, NotFoundError
from pybirch.database.models import MeasurementObject, Scan
from pybirch.database.services.core import ServiceCore
from pybirch.database.storage import chunks
from pybirch.database.storage.codec import ChunkData, EncodedChunk, encode
from pybirch.database.storage.grid import build_grid
from pybirch.database.storage.layout import POINT_INDEX, TIMESTAMP, Layout
from pybirch.database.storage.measurement_data import MeasurementData

if TYPE_CHECKING:
    import xarray as xr


@dataclass(frozen=True)
class DataPoint:
    """One stored row, as the seed's row-level API returns it."""

    measurement_object_id: int
    sequence_index: int
    point_index: int
    values: dict[str, float]
    timestamp: datetime


def layout_from_labels(labels: Sequence[str]) -> Layout:
    """A layout from DataFrame-style labels: ``timestamp`` kept, ``point_index`` dropped."""
    data = [label for label in labels if label not in (POINT_INDEX, TIMESTAMP)]
    return Layout.build(data)


class DataMixin(ServiceCore):
    """Store and read measurement data as columnar chunks."""

    def create_measurement_object(
        self,
        scan_id: int,
        name: str,
        columns: Sequence[str] | Layout | None = None,
        *,
        point_shape: Sequence[int] | None = None,
        **fields: Any,
    ) -> MeasurementObject:
        """The measurement ``name`` of a scan, created on first use.

        ``columns`` is a :class:`Layout` or a list of ``name (unit)`` labels (all data).
        Asking again with the same name returns the stored object if its layout matches.
        """
        layout = columns if isinstance(columns, Layout) else layout_from_labels(columns or [])
        with self.session() as session:
            if session.scalar(select(Scan.id).where(Scan.id == scan_id)) is None:
                raise NotFoundError("Scan", scan_id)
            stored = session.scalar(
                select(MeasurementObject).where(
                    MeasurementObject.scan_id == scan_id, MeasurementObject.name == name
                )
            )
            if stored is not None:
                if Layout.from_json(stored.columns) != layout:
                    raise DataIntegrityError(
                        f"measurement {name!r} of scan {scan_id} is stored with columns "
                        f"{Layout.from_json(stored.columns).labels}, not {layout.labels}"
                    )
                return stored
            measurement = MeasurementObject(
                scan_id=scan_id,
                name=name,
                columns=layout.to_json(),
                point_shape=None if point_shape is None else [int(n) for n in point_shape],
                **fields,
            )
            session.add(measurement)
            session.flush()
            return measurement

    def get_measurement_object(self, measurement_object_id: int) -> MeasurementObject:
        """The measurement object with this id."""
        return self._fetch(MeasurementObject, measurement_object_id)

    def get_measurement_objects(self, scan_id: int) -> list[MeasurementObject]:
        """Every measurement of a scan, in the order they were created."""
        with self.session() as session:
            return list(
                session.scalars(
                    select(MeasurementObject)
                    .where(MeasurementObject.scan_id == scan_id)
                    .order_by(MeasurementObject.id)
                )
            )

    def find_measurement_object(self, scan_id: int, name: str | None = None) -> MeasurementObject:
        """A scan's measurement called ``name`` (or its only one)."""
        measurements = self.get_measurement_objects(scan_id)
        if name is None:
            if len(measurements) != 1:
                raise DataIntegrityError(
                    f"scan {scan_id} has measurements {[m.name for m in measurements]}; "
                    f"name the one you want"
                )
            return measurements[0]
        for measurement in measurements:
            if measurement.name == name:
                return measurement
        raise NotFoundError("measurement", f"{name} of scan {scan_id}")

    def store_chunks(self, measurement_object_id: int, encoded: Sequence[EncodedChunk]) -> None:
        """Store encoded chunks in one transaction; chunks stored before are skipped."""
        with self.engine.begin() as connection:
            chunks.insert_chunks(connection, measurement_object_id, encoded)

    def write_rows(self, measurement_object_id: int, rows: ChunkData) -> None:
        """Store a run of rows, refusing rows that overlap what is stored."""
        measurement = self.get_measurement_object(measurement_object_id)
        encoded = encode(rows, Layout.from_json(measurement.columns))
        with self.engine.begin() as connection:
            chunks.check_no_overlap(
                connection, measurement_object_id, encoded.first_row, encoded.end_row
            )
            chunks.insert_chunks(connection, measurement_object_id, [encoded])

    def bulk_create_data_points(self, data_points: Sequence[dict[str, Any]]) -> int:
        """Store rows given as dicts (the seed's format); returns how many were given.

        Each dict has ``measurement_object_id``, ``sequence_index`` (the row's index),
        ``values`` ({label: number}) and optionally ``timestamp`` (datetime or epoch
        seconds). Runs of consecutive indices become one chunk each.
        """
        by_measurement: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for point in data_points:
            by_measurement[int(point["measurement_object_id"])].append(point)
        for measurement_object_id, points in by_measurement.items():
            layout = Layout.from_json(self.get_measurement_object(measurement_object_id).columns)
            points.sort(key=lambda point: int(point["sequence_index"]))
            for run in _consecutive_runs(points):
                self.write_rows(measurement_object_id, _rows_from_dicts(run, layout))
        return len(data_points)

    def get_measurement_data(
        self,
        measurement_object_id: int,
        start_index: int | None = None,
        end_index: int | None = None,
    ) -> list[DataPoint]:
        """Rows ``start_index`` to ``end_index`` (exclusive) as :class:`DataPoint` objects.

        For many rows use :meth:`read_measurement`, which returns numpy columns.
        """
        data = self.read_measurement(measurement_object_id, start_index or 0, end_index)
        labels = data.layout.data_labels + data.layout.position_labels
        times = data[TIMESTAMP]
        row_indices = data.row_index
        rows = zip(*(data[label].tolist() for label in labels), strict=True) if labels else ()
        return [
            DataPoint(
                measurement_object_id=measurement_object_id,
                sequence_index=int(row_indices[i]),
                point_index=int(data.point_index[i]),
                values=dict(zip(labels, values, strict=True)),
                timestamp=datetime.fromtimestamp(float(times[i]), UTC),
            )
            for i, values in enumerate(rows)
        ]

    def get_data_point_count(self, scan_id: int, measurement_name: str | None = None) -> int:
        """Points stored for a scan (all its measurements, or the one named)."""
        measurements = self.get_measurement_objects(scan_id)
        with self.engine.connect() as connection:
            return sum(
                chunks.count(connection, m.id)[1]
                for m in measurements
                if measurement_name is None or m.name == measurement_name
            )

    def get_row_count(self, measurement_object_id: int) -> int:
        """Rows stored for one measurement."""
        with self.engine.connect() as connection:
            return chunks.count(connection, measurement_object_id)[0]

    def read_measurement(
        self,
        measurement_object_id: int,
        start_row: int = 0,
        end_row: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> MeasurementData:
        """Rows ``start_row`` to ``end_row`` (exclusive) as numpy columns."""
        measurement, layout = self._measurement_layout(measurement_object_id)
        with self.engine.connect() as connection:
            return chunks.read_range(
                connection,
                measurement.id,
                layout,
                start_row,
                end_row,
                columns,
                **_info(measurement),
            )

    def iter_measurement(
        self,
        measurement_object_id: int,
        start_row: int = 0,
        end_row: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> Iterator[MeasurementData]:
        """The rows chunk by chunk, holding about one chunk in memory at a time."""
        measurement, layout = self._measurement_layout(measurement_object_id)
        with self.engine.connect() as connection:
            yield from chunks.iter_ranges(
                connection,
                measurement.id,
                layout,
                start_row,
                end_row,
                columns,
                **_info(measurement),
            )

    def read_xarray(self, measurement_object_id: int) -> xr.Dataset:
        """A gridded measurement as an xarray Dataset, read chunk by chunk into its arrays.

        The same Dataset as ``read_measurement(...).to_xarray()``, holding the output (a
        value per grid cell and data column, inherently the size of the data), the axes'
        positions and one chunk, never the whole measurement as rows.
        """
        measurement, layout = self._measurement_layout(measurement_object_id)

        def read(labels: list[str]) -> Iterator[MeasurementData]:
            return self.iter_measurement(measurement.id, columns=labels)

        return build_grid(measurement.name, layout, layout.units(), read)

    def _measurement_layout(self, measurement_object_id: int) -> tuple[MeasurementObject, Layout]:
        measurement = self.get_measurement_object(measurement_object_id)
        return measurement, Layout.from_json(measurement.columns)

    def read_scan_data(self, scan_id: int, measurement_name: str | None = None) -> MeasurementData:
        """Every row of one measurement of a scan (its only one if no name is given)."""
        measurement = self.find_measurement_object(scan_id, measurement_name)
        return self.read_measurement(measurement.id)


def _info(measurement: MeasurementObject) -> dict[str, Any]:
    shape = tuple(measurement.point_shape) if measurement.point_shape else None
    return {"name": measurement.name, "point_shape": shape}


def _consecutive_runs(points: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    run: list[dict[str, Any]] = []
    for point in points:
        if run and int(point["sequence_index"]) != int(run[-1]["sequence_index"]) + 1:
            yield run
            run = []
        run.append(point)
    if run:
        yield run


def _rows_from_dicts(points: list[dict[str, Any]], layout: Layout) -> ChunkData:
    """One chunk of single-row points from the seed's dicts."""
    first = int(points[0]["sequence_index"])
    columns = []
    for spec in layout.columns:
        if spec.kind == "timestamp":
            columns.append(np.array([_epoch(p.get("timestamp")) for p in points]))
            continue
        try:
            columns.append(np.array([p["values"][spec.label] for p in points], dtype=spec.dtype))
        except KeyError:
            raise DataIntegrityError(
                f"a data point lacks the column {spec.label!r} (index {first}...)"
            ) from None
        except (TypeError, ValueError) as exc:
            raise DataIntegrityError(f"column {spec.label!r}: {exc}") from exc
    return ChunkData(first, first, columns, len(points), len(points))


def _epoch(moment: datetime | float | None) -> float:
    if moment is None:
        return datetime.now(UTC).timestamp()
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise DataIntegrityError(f"naive timestamp {moment!r}: give a timezone-aware time")
        return moment.timestamp()
    return float(moment)
