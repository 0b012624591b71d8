"""Figure exports at any DPI are the same picture: a 300-dpi PNG is the 100-dpi one with 3x the pixels
(text, lines and legends scaled alike), not one with huge tick labels or hairline curves."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from strfviewer.gui.exporting import figures  # noqa: E402


def _panels(C: int = 1) -> figures.FigurePanels:
    rng = np.random.default_rng(0)
    F, T = 16, 200
    t = np.arange(T)
    spec = np.sin(t[None, :] / 7.0 + np.arange(F)[:, None] / 3.0).astype(np.float32)
    rate = 0.5 + 0.4 * np.sin(t / 9.0)
    recorded = rng.poisson(rate, (5, T)).astype(np.float64)
    grad = rng.standard_normal((C, F, 10)).astype(np.float32)
    return figures.FigurePanels("cell A", "song 1", spec, np.geomspace(500, 16000, F), 5.0, recorded,
                                {"model": rate}, grad, (np.arange(10) - 9) * 5.0, "gradmap (last)",
                                ("ON", "OFF") if C == 2 else (), {"model": (0.5, 0.6)})


def _grey(path, factor: int = 1) -> np.ndarray:
    """The PNG as grey levels 0..1 ``(H, W)``, averaged over ``factor x factor`` blocks."""
    from PySide6.QtGui import QImage

    image = QImage(str(path)).convertToFormat(QImage.Format_Grayscale8)
    h, w = image.height(), image.width()
    grey = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())[:, :w] / 255.0
    return grey[: h // factor * factor, : w // factor * factor].reshape(h // factor, factor, w // factor,
                                                                     factor).mean(axis=(1, 3))


def _ink(grey: np.ndarray) -> np.ndarray:
    return grey < 0.5


@pytest.mark.parametrize("C", [1, 2])
def test_a_300_dpi_png_is_the_100_dpi_one_scaled(tmp_path, C):
    figures.ensure_app()
    panels = _panels(C)
    low, high = tmp_path / "f100.png", tmp_path / "f300.png"
    figures.save_figure(panels, low, dpi=100, width_in=6, height_in=4)
    figures.save_figure(panels, high, dpi=300, width_in=6, height_in=4)
    a, b = _grey(low), _grey(high, factor=3)
    assert a.shape == b.shape == (400, 600)
    # as much ink (text, lines, dark image pixels) in the same places, within anti-aliasing differences
    ink_a, ink_b = _ink(a), _ink(b)
    assert abs(ink_b.mean() - ink_a.mean()) < 0.15 * ink_a.mean(), (ink_a.mean(), ink_b.mean())
    assert (ink_a != ink_b).mean() < 0.015
    assert np.abs(a - b).mean() < 0.03


def _pdf_drawing(path) -> list:
    """The decompressed streams of a PDF but its XMP metadata (what is drawn, without dates or ids)."""
    import re
    import zlib

    streams = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", path.read_bytes(), re.S):
        try:
            streams.append(zlib.decompress(match.group(1)))
        except zlib.error:
            streams.append(match.group(1))
    return [s for s in streams if not s.startswith(b"<?xpacket")]


def test_the_dpi_does_not_change_a_pdf(tmp_path):
    """PDF is vector: text and lines keep their size in points whatever DPI is asked (a PDF at 300 dpi once
    drew its tick labels ~10x too large)."""
    figures.ensure_app()
    panels = _panels(1)
    low, high = tmp_path / "f100.pdf", tmp_path / "f300.pdf"
    figures.save_figure(panels, low, dpi=100, width_in=6, height_in=4)
    figures.save_figure(panels, high, dpi=300, width_in=6, height_in=4)
    assert _pdf_drawing(low) == _pdf_drawing(high)
