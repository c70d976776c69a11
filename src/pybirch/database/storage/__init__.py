"""Measurement data as compressed columnar chunks (see DESIGN.md, "Measurement data storage")."""

from pybirch.database.storage.codec import ChunkData, EncodedChunk, decode, encode
from pybirch.database.storage.layout import ColumnSpec, Layout
from pybirch.database.storage.measurement_data import MeasurementData

__all__ = [
    "ChunkData",
    "ColumnSpec",
    "EncodedChunk",
    "Layout",
    "MeasurementData",
    "decode",
    "encode",
]
