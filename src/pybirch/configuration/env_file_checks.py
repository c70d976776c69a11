"""Warnings about a ``.env`` file: secrets others may read, names that look misspelt."""

from __future__ import annotations

import difflib
import os
import stat

from pybirch.configuration.integration_config import IntegrationConfig

#: How alike an unknown name must be to a variable's to be taken for a misspelling of it.
_MISSPELT_SIMILARITY = 0.85


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


def misspelt_warnings(config: IntegrationConfig) -> list[str]:
    """One warning per name in the .env file that is no variable but looks like one.

    Other names are left alone: a .env file is often shared with other tools.
    """
    known = [variable.name for _field, variable in IntegrationConfig.variables()]
    warnings = []
    for name in config.unknown_in_env_file:
        close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=_MISSPELT_SIMILARITY)
        if close:
            warnings.append(
                f"{config.env_file} sets {name}, which PyBirch does not read: {close[0]}?"
            )
    return warnings


def env_file_warnings(config: IntegrationConfig) -> list[str]:
    """What is amiss in the .env file though nothing in it was refused."""
    exposed = exposed_secrets_warning(config)
    return [*([] if exposed is None else [exposed]), *misspelt_warnings(config)]
