"""A unified diff (difflib's) laid out in two columns: the old version left, the new right.

Within a hunk, a run of removed lines faces the run of added lines that follows it, row by
row; an unchanged line stands on both sides. Each hunk starts with a row that says which
lines it covers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")


@dataclass(frozen=True)
class Side:
    """One side of a row: its line number (None when blank), its text and its kind."""

    number: int | None = None
    text: str = ""
    #: ``same``, ``removed``, ``added`` or ``blank``.
    kind: str = "blank"


@dataclass(frozen=True)
class Row:
    """A row of the two-column diff; ``hunk`` holds a hunk's heading instead of lines."""

    left: Side
    right: Side
    hunk: str | None = None


def side_by_side(unified: str) -> list[Row]:
    """The rows of a unified diff (its ``---``/``+++`` header lines are skipped)."""
    rows: list[Row] = []
    removed: list[Side] = []
    added: list[Side] = []
    old = new = 0

    def flush() -> None:
        for index in range(max(len(removed), len(added))):
            left = removed[index] if index < len(removed) else Side()
            right = added[index] if index < len(added) else Side()
            rows.append(Row(left, right))
        removed.clear()
        added.clear()

    for line in unified.splitlines():
        heading = _HUNK.match(line)
        if heading:
            flush()
            old, new = int(heading.group(1)), int(heading.group(2))
            rows.append(Row(Side(), Side(), hunk=f"from line {old} ↔ line {new}{heading.group(3)}"))
        elif line.startswith(("---", "+++")) and not rows:
            continue
        elif line.startswith("-"):
            removed.append(Side(old, line[1:], "removed"))
            old += 1
        elif line.startswith("+"):
            added.append(Side(new, line[1:], "added"))
            new += 1
        elif line.startswith(" ") or line == "":
            flush()
            text = line[1:]
            rows.append(Row(Side(old, text, "same"), Side(new, text, "same")))
            old, new = old + 1, new + 1
    flush()
    return rows
