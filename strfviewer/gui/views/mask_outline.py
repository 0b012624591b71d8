"""Outline of a boolean pixel mask as line segments along the pixel edges (for a significance contour over an
image): Qt-free, drawn with ``pg.PlotCurveItem(x, y, connect='pairs')``."""

from __future__ import annotations

from typing import Tuple

import numpy as np


def mask_outline(mask: np.ndarray, x0: float, dx: float, y0: float = -0.5, dy: float = 1.0
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Segments ``(x (2K,), y (2K,))`` (pairs of end points) of the boundary of ``mask`` ``(rows, cols)``,
    row ``r`` spanning ``y0 + r*dy .. y0 + (r+1)*dy`` and column ``c`` spanning ``x0 + c*dx .. x0 + (c+1)*dx``
    (an image placed with ``setRect(x0, y0, cols*dx, rows*dy)``). Empty arrays for an empty mask."""
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be (rows, cols), got shape {m.shape}")
    padded = np.pad(m, 1)
    # horizontal edges: between rows r-1 and r (r = 0..rows), for each column
    rows_h, cols_h = np.nonzero(padded[1:, 1:-1] != padded[:-1, 1:-1])
    # vertical edges: between columns c-1 and c (c = 0..cols), for each row
    rows_v, cols_v = np.nonzero(padded[1:-1, 1:] != padded[1:-1, :-1])
    xh = np.stack([x0 + cols_h * dx, x0 + (cols_h + 1) * dx], axis=1).ravel()
    yh = np.repeat(y0 + rows_h * dy, 2)
    xv = np.repeat(x0 + cols_v * dx, 2)
    yv = np.stack([y0 + rows_v * dy, y0 + (rows_v + 1) * dy], axis=1).ravel()
    return np.concatenate([xh, xv]).astype(float), np.concatenate([yh, yv]).astype(float)
