"""JSON-safe conversion of metrics and settings (numpy / torch values to lists and floats, NaN and inf to ``None``)."""

from __future__ import annotations

import math
from typing import Any


def json_safe(obj: Any) -> Any:
    """Recursively turn numpy arrays/scalars into lists/floats and NaN/inf into ``None``."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy array or scalar, torch tensor
        return json_safe(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj
