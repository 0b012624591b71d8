"""deepSTRF 0.1.0's five waveform front-ends (``deepSTRF.models.wav2spec``), reimplemented: same constructor
arguments, defaults and state-dict names, so deepSTRF checkpoints load and predict the same.

Registry kind ``frontend``: ``CausalMel`` (``CausalMelSpectrogram``), ``Gammatone`` (``CausalGammatone``),
``Gammatonegram``, ``LEAF`` (``CausalLEAF``), ``SincNet``. Each maps a waveform ``(B, 1, T_audio)`` (or
``(B, T_audio)``) to ``(B, 1, F, T_audio // hop)`` with ``audio_fs`` = ``sample_rate`` (Hz), ``hop`` (samples
per frame), ``hop_ms`` = ``dt_ms``, ``out_channels`` (F), ``center_frequencies()``, ``bandwidths()`` and
``frequency_response(freqs_hz)``; output frame ``k`` depends on samples ``< (k + 1) * hop`` only.
See docs/models.md, "Waveform front-ends".
"""

from strfviewer.models.wav2spec._common import WaveformFrontend
from strfviewer.models.wav2spec.causal_mel import CausalMelSpectrogram
from strfviewer.models.wav2spec.gammatone import CausalGammatone
from strfviewer.models.wav2spec.gammatonegram import Gammatonegram
from strfviewer.models.wav2spec.leaf import CausalLEAF
from strfviewer.models.wav2spec.sincnet import SincNet

__all__ = ["WaveformFrontend", "CausalMelSpectrogram", "CausalGammatone", "Gammatonegram", "CausalLEAF", "SincNet"]
