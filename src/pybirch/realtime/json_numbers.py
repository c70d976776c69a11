"""Numbers as JSON: a numpy column as a list, NaN and infinities as null (JSON has neither)."""

from __future__ import annotations

import numpy as np


def json_numbers(values: np.ndarray) -> list[float | int | None]:
    """``values`` as a list, each non-finite float replaced by None."""
    listed = values.tolist()
    if values.dtype.kind != "f" or np.isfinite(values).all():
        return listed
    finite = np.isfinite(values).tolist()
    return [value if ok else None for value, ok in zip(listed, finite, strict=True)]
