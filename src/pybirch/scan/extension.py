"""Extensions receive a scan's life and data: storage, files, live plots.

The engine calls every hook of every extension from one thread per scan, in this order::

    set_scan_reference(scan) -> startup() -> point_recorder(columns)* -> execute()
        -> save_data(df, name)*  (on_pause() -> save_data()* -> on_resume())*
        -> on_complete() | on_abort() | on_error(exc)
    -> shutdown()

Every row reaches every extension exactly once, in order, in batches; ``save_data`` is
never called concurrently for one scan.

When an extension raises
------------------------
* A *critical* extension (the default: ``critical = True``, for anything that stores
  data) fails the scan: the scan stops at the next point boundary and ends ``FAILED``
  with an :class:`~pybirch.scan.errors.ExtensionError` naming the extension and hook.
  The other extensions still receive all data taken so far and ``on_error``.
* A non-critical extension (``critical = False``, for a live plot or a progress bar) is
  detached: its error is logged with the traceback and kept in ``scan.extension_errors``,
  and the scan goes on without it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pandas as pd

    from pybirch.scan.batch import DataBatch, MeasurementColumns, PointRecorder
    from pybirch.scan.scan import Scan

log = logging.getLogger(__name__)

_extension_classes: dict[str, type[ScanExtension]] = {}


class ScanExtension:
    """Base class for anything that follows a scan; override the hooks you need."""

    #: A critical extension's failure fails the scan; see the module documentation.
    critical: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _extension_classes[f"{cls.__module__}:{cls.__qualname__}"] = cls

    def set_scan_reference(self, scan: Scan) -> None:
        """Called first, with the scan this extension follows."""
        self.scan = scan

    def startup(self) -> None:
        """Called once the instruments are connected, before any point."""

    def point_recorder(self, columns: MeasurementColumns) -> PointRecorder | None:
        """A recorder that gets each point of one measurement as it is measured, or None.

        Called once per measurement after :meth:`startup`; the first extension offering a
        recorder gets every point before the engine takes the next, so an extension that
        stores data can keep the points a killed process had not batched yet (see
        :class:`pybirch.scan.journal.PointJournal`). The scan closes the recorder at its end.
        """
        return None

    def execute(self) -> None:
        """Called when the scan starts taking points."""

    def save_batch(self, batch: DataBatch) -> None:
        """Receive a batch of rows; the default hands a DataFrame to :meth:`save_data`."""
        self.save_data(batch.to_dataframe(), batch.measurement_name)

    def save_data(self, df: pd.DataFrame, measurement_name: str) -> None:
        """Receive a batch of rows of one measurement as a DataFrame."""

    def on_pause(self) -> None:
        """Called once the scan has paused; all earlier rows were delivered."""

    def on_resume(self) -> None:
        """Called when the scan resumes."""

    def on_complete(self) -> None:
        """Called when the scan took every point; all rows were delivered."""

    def on_abort(self) -> None:
        """Called when the scan was aborted; all rows taken were delivered."""

    def on_error(self, exc: BaseException) -> None:
        """Called when the scan failed with ``exc``; all rows taken were delivered."""

    def shutdown(self) -> None:
        """Called last, after the instruments were shut down."""

    def config(self) -> dict[str, Any] | None:
        """Constructor arguments that rebuild this extension, or None if it cannot be saved."""
        return None

    def to_dict(self) -> dict[str, Any] | None:
        """A JSON-able description, or None for extensions that hold live objects."""
        config = self.config()
        if config is None:
            return None
        return {"class": f"{type(self).__module__}:{type(self).__qualname__}", "config": config}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanExtension:
        """Rebuild an extension saved with :meth:`to_dict`."""
        from pybirch.scan.errors import ScanDefinitionError

        try:
            extension_class = _extension_classes[data["class"]]
        except KeyError as exc:
            raise ScanDefinitionError(
                f"extension class {data.get('class')!r} is not registered; import the "
                f"module that defines it before loading the scan"
            ) from exc
        return extension_class(**data.get("config", {}))
