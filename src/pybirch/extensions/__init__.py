"""Ready-made scan extensions: where a scan's data goes besides the database."""

from pybirch.extensions.csv_writer import CsvWriterExtension

__all__ = ["CsvWriterExtension"]
