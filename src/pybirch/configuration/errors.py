"""The error raised when a configuration value cannot be used."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pybirch.errors import PyBirchError


@dataclass(frozen=True)
class ConfigProblem:
    """One bad value: which variable, what it said, where it came from, what was expected."""

    variable: str
    #: The value as written (secrets masked), so the message can be shown and logged.
    value: str
    #: "the environment" or the path of the ``.env`` file.
    origin: str
    expected: str

    def __str__(self) -> str:
        return f"{self.variable}={self.value!r} (from {self.origin}): expected {self.expected}"


class ConfigError(PyBirchError, ValueError):
    """One or more configuration values are unusable; ``problems`` lists each of them."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        lines = [str(problem) for problem in self.problems]
        if len(lines) == 1:
            super().__init__(f"bad configuration: {lines[0]}")
        else:
            super().__init__("bad configuration:\n  " + "\n  ".join(lines))
