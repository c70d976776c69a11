"""Whether the ``.env`` file gives its secrets away to other users of the computer."""

from __future__ import annotations

import os
import stat

from pybirch.configuration.integration_config import IntegrationConfig


def exposed_secrets_warning(config: IntegrationConfig) -> str | None:
    """A warning if the .env file holds secrets and users other than its owner may read it."""
    env_file = config.env_file
    if env_file is None or os.name != "posix":  # Windows has no permission bits to check
        return None
    secrets = [
        variable.name
        for _field, variable in IntegrationConfig.variables()
        if variable.secret and config.source_of(variable.name) == str(env_file)
    ]
    if not secrets:
        return None
    try:
        mode = env_file.stat().st_mode
    except OSError as exc:  # removed since it was read: nothing left to expose
        return f"cannot check who may read {env_file}: {exc}"
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return None
    return (
        f"{env_file} holds {', '.join(secrets)} and other users of this computer may read it: "
        f"chmod 600 {env_file}"
    )
