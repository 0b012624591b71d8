"""data.audio.resample: soxr, a finite (not periodic) signal, the stated length, a tone kept."""

import numpy as np
import pytest

from strfviewer.data.audio import resample


@pytest.mark.parametrize("src,dst", [(44100, 16000), (16000, 24000), (32000, 16000)])
def test_length_and_tone(src, dst):
    t = np.arange(int(0.5 * src)) / src
    x = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    y = resample(x, src, dst)
    assert y.dtype == np.float32 and y.shape == (int(round(x.size * dst / src)),)
    ref = 0.5 * np.sin(2 * np.pi * 1000.0 * np.arange(y.size) / dst)
    core = slice(y.size // 10, -y.size // 10)          # away from the ends' filter transients
    assert np.max(np.abs(y[core] - ref[core])) < 1e-2


def test_the_end_does_not_wrap_to_the_start():
    # an FFT resampler treats the signal as periodic: a click at the very end rings at the start
    x = np.zeros(16000, np.float32)
    x[-3:] = 1.0
    y = resample(x, 16000, 22050)
    assert np.max(np.abs(y[:2000])) < 1e-6
    assert np.max(np.abs(y[-50:])) > 0.3


def test_same_rate_is_a_copy_as_float32():
    x = np.arange(10, dtype=np.float64)
    y = resample(x, 8000, 8000)
    assert y.dtype == np.float32 and np.array_equal(y, x)
