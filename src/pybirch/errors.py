"""The root of every exception PyBirch raises.

Each layer defines its own exceptions under :class:`PyBirchError`::

    PyBirchError
    ├── InstrumentError                 (pybirch.instruments.errors)
    │   ├── InstrumentConnectionError
    │   │   ├── AdapterError
    │   │   └── InstrumentDisconnectedError
    │   ├── SettingsError
    │   │   ├── UnknownSettingError
    │   │   └── InvalidSettingError
    │   ├── MovementLimitError
    │   └── MeasurementShapeError
    ├── ScanError                       (pybirch.scan.errors)
    │   ├── ScanDefinitionError
    │   ├── ScanStateError
    │   └── ExtensionError
    ├── QueueError                      (pybirch.queue.errors)
    │   ├── ScanNotFoundError
    │   └── QueueStateError
    ├── SampleError                     (pybirch.sample_images, re-exported by pybirch.queue)
    │   └── SampleImageError
    └── ConfigError                     (pybirch.configuration; also a ValueError)

Catch :class:`PyBirchError` to handle anything PyBirch raises on purpose.
"""


class PyBirchError(Exception):
    """Base class of every exception PyBirch raises on purpose."""
