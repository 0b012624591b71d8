"""QA: the default front-end is logarithmic over the range of levels recordings hold.

Band amplitudes of the STRFlab songs (16-bit wavs) have medians of 1e-4 to 1e-3 of full scale; a log
front-end whose floor sits at those levels flattens them (the Linear model of the cell then loses about a
fifth of its test cc_norm). Over 80 dB below full scale a tenfold amplitude must read as log(10) more.
"""

import numpy as np
import pytest

from strfviewer.data.spectrogram import SpectrogramConfig, band_frequencies, compute_spectrogram

SR = 32000


@pytest.mark.parametrize("amplitude", [1e-4, 1e-3, 1e-2])
def test_a_tenfold_louder_tone_reads_log10_higher(amplitude):
    cfg = SpectrogramConfig()
    freqs = band_frequencies(cfg, SR)
    band = len(freqs) // 2
    t = np.arange(SR // 2) / SR
    tone = np.sin(2 * np.pi * freqs[band] * t)
    quiet, _ = compute_spectrogram(amplitude * tone, SR, cfg)
    loud, _ = compute_spectrogram(10 * amplitude * tone, SR, cfg)
    middle = slice(quiet.shape[1] // 4, 3 * quiet.shape[1] // 4)  # away from the onset
    step = float(np.median(loud[band, middle] - quiet[band, middle]))
    assert step == pytest.approx(np.log(10.0), abs=0.25)
