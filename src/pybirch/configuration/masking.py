"""Secrets shown without their secret part: passwords in URLs and keys become ``***``."""

from __future__ import annotations

import re

MASK = "***"
#: ``scheme://user:password@``. The password runs to the last ``@``: one holding an
#: unescaped ``@`` or ``/`` is still hidden (better to hide too much than a secret).
_URL_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][\w+.-]*://[^:/@]*):.*@")
#: ``user:password@host`` typed without its scheme.
_BARE_PASSWORD = re.compile(r"^(?P<head>[^:/@]*):.*@")


def masked_url(text: str) -> str:
    """A URL (or what was meant as one) with its password, if any, shown as ``***``."""
    pattern = _URL_PASSWORD if "://" in text else _BARE_PASSWORD
    return pattern.sub(lambda match: f"{match['head']}:{MASK}@", text, count=1)
