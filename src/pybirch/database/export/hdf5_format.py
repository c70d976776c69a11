"""HDF5: one file per scan, a group per measurement, a dataset per column.

The file's attributes hold the scan's metadata; each group's, the measurement's
(``measurement``, ``instrument``, ``point_shape``, ``columns``). Datasets are named by label
(a ``/`` in it becomes ``_``) and keep the label, ``units`` and ``kind`` as attributes; groups
and datasets keep the scan's order. Datasets are chunked, resizable and gzip-compressed, and
grow by one stored chunk at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from pybirch.database.export.files import unique_names
from pybirch.database.export.source import MeasurementSource

SUFFIX = ".h5"
#: Rows per HDF5 chunk (512 KiB of float64).
CHUNK_ROWS = 65536


def write_hdf5(path: Path, sources: Sequence[MeasurementSource]) -> None:
    """Write every measurement in ``sources`` (of one scan) to ``path``."""
    with h5py.File(path, "w", track_order=True) as file:
        if sources:
            file.attrs.update(sources[0].scan_metadata)
        group_names = unique_names([_hdf5_name(source.name) for source in sources])
        for name, source in zip(group_names, sources, strict=True):
            _write_measurement(file.create_group(name, track_order=True), source)


def _write_measurement(group: h5py.Group, source: MeasurementSource) -> None:
    group.attrs.update(source.measurement_metadata)
    names = unique_names([_hdf5_name(label) for label in source.labels])
    datasets = []
    for name, column in zip(names, source.columns, strict=True):
        dataset = group.create_dataset(
            name,
            shape=(0,),
            maxshape=(None,),
            dtype=column.dtype,
            chunks=(CHUNK_ROWS,),
            compression="gzip",
            compression_opts=1,
            shuffle=True,
        )
        dataset.attrs.update({"label": column.label, "units": column.unit, "kind": column.kind})
        datasets.append(dataset)
    for columns in source.blocks():
        for dataset, values in zip(datasets, columns, strict=True):
            _append(dataset, values)


def _append(dataset: h5py.Dataset, values: np.ndarray) -> None:
    start = dataset.shape[0]
    dataset.resize((start + len(values),))
    dataset[start:] = values


def _hdf5_name(text: str) -> str:
    """``text`` as an HDF5 link name: no ``/``, not empty, not ``.``."""
    name = text.replace("/", "_")
    return name if name not in ("", ".") else f"_{name}"
