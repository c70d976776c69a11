"""Secrets shown without their secret part: passwords in URLs and keys become ``***``."""

from __future__ import annotations

import re

MASK = "***"
#: ``scheme://user:password@``. The password runs to the last ``@``: a password holding an
#: unescaped ``@`` or ``/`` is still hidden (better to hide too much than a secret).
_URL_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][\w+.-]*://[^:/@]*):.*@")


def masked(text: str) -> str:
    """``text`` with its secret hidden: a URL keeps all but its password, the rest is ``***``."""
    if "://" in text:
        return _URL_PASSWORD.sub(lambda match: f"{match['head']}:{MASK}@", text, count=1)
    return MASK
