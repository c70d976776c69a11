"""PyBirch's configuration, read in one place: environment, then a ``.env`` file, then defaults.

Every layer may import this package (it imports no other part of PyBirch). Call
:func:`current_config` where a value is needed::

    from pybirch.configuration import current_config

    interval = current_config().instrument_scan_interval

``pybirch config`` prints the effective values and where each came from.
"""

from pybirch.configuration.env_file_checks import env_file_warnings
from pybirch.configuration.errors import ConfigError, ConfigProblem
from pybirch.configuration.integration_config import (
    DEFAULT,
    ENVIRONMENT,
    IntegrationConfig,
    Variable,
)
from pybirch.configuration.loading import (
    ENV_FILE_VARIABLE,
    current_config,
    env_file_path,
    load_config,
)

__all__ = [
    "DEFAULT",
    "ENVIRONMENT",
    "ENV_FILE_VARIABLE",
    "ConfigError",
    "ConfigProblem",
    "IntegrationConfig",
    "Variable",
    "current_config",
    "env_file_path",
    "env_file_warnings",
    "load_config",
]
