"""Infer the waveform front-end (``wav2spec``) of a deepSTRF checkpoint from its tensor names and shapes.

deepSTRF's ``config.json`` drops a passed-in front-end entirely, so the class and its sizes are read from the
``wav2spec.*`` tensors:

======================================================================  ==============================
tensors (under ``wav2spec.``)                                           front-end (strfviewer name)
======================================================================  ==============================
``_window, _mel_fb``                                                    CausalMelSpectrogram (CausalMel)
``_fc, _kernels``                                                       CausalGammatone (Gammatone)
``a_coeffs, b1, b2, b3, b4, gain``                                      Gammatonegram
``center_freq_, gabor_sigma_raw, pool_sigma_raw, pcen_*, _n, _pool_j``  CausalLEAF (LEAF)
``low_hz_, band_hz_, _n, _window``                                      SincNet
======================================================================  ==============================

The band count comes from the shapes; lengths in samples (STFT window, kernels, pooling window) become the
millisecond arguments once the audio sample rate is known, and the frequency range of the fixed filterbanks
from the stored filters. The sample rate is stored nowhere: it is the one argument asked for
(``extra_kwargs={"wav2spec": {"audio_fs": 16000}}``). ``hop_ms`` is the checkpoint metadata's ``dt_ms`` when
it has one, else deepSTRF's default 5 ms. Options that change no tensor (compression, rectification,
SincNet's ``envelope``/``activation``, LEAF's ``learn_*`` flags ...) take deepSTRF's defaults unless given the
same way. The filter tensors themselves are loaded from the file, so the predictions are deepSTRF's.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping

import torch

from strfviewer.io.deepstrf_compat import FRONTEND_PREFIX, Unresolved, _slot_tensors, describe

_LEAF = {"center_freq_", "gabor_sigma_raw", "pool_sigma_raw", "pcen_alpha_raw", "pcen_delta_raw", "pcen_root_raw",
         "pcen_s_logit", "_n", "_pool_j"}
#: tensor names -> (deepSTRF class, strfviewer registry name)
SIGNATURES = (
    ({"_window", "_mel_fb"}, "CausalMelSpectrogram", "CausalMel"),
    ({"_fc", "_kernels"}, "CausalGammatone", "Gammatone"),
    ({"a_coeffs", "b1", "b2", "b3", "b4", "gain"}, "Gammatonegram", "Gammatonegram"),
    (_LEAF, "CausalLEAF", "LEAF"),
    ({"low_hz_", "band_hz_", "_n", "_window"}, "SincNet", "SincNet"),
)
_HZ_DECIMALS = 2  # frequency limits read back from float32 filters are rounded to 0.01 Hz


def infer_frontend(class_name: str, kwargs: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], passed: bool,
                   metadata: Mapping[str, Any]):
    """The ``wav2spec`` argument of a deepSTRF checkpoint: ``None`` (no front-end) or an :class:`Unresolved`
    holding the inferred description, which asks for ``audio_fs``."""
    found = _slot_tensors(tensors, FRONTEND_PREFIX)
    if not found:
        if passed:
            return Unresolved("wav2spec", "a waveform front-end without weights was passed to deepSTRF")
        return None
    names = set(found)
    for signature, deepstrf_name, name in SIGNATURES:
        if names == signature:
            break
    else:
        return Unresolved("wav2spec", f"unrecognised waveform front-end tensors {sorted(names)}")
    try:
        sizes, finish = _READERS[name](found)
    except (KeyError, IndexError, ValueError) as exc:
        return Unresolved("wav2spec", f"the {deepstrf_name} front-end tensors have unexpected shapes ({exc})")
    dt_ms = metadata.get("dt_ms")
    if isinstance(dt_ms, (int, float)) and not isinstance(dt_ms, bool) and math.isfinite(dt_ms) and dt_ms > 0:
        sizes["hop_ms"] = float(dt_ms)
    bands = next(iter(sizes.values()))
    partial = describe("frontend", name, **sizes)
    return Unresolved("wav2spec", f"the weights show a deepSTRF {deepstrf_name} front-end with {bands} bands, but "
                                  "the audio sample rate (Hz) is not stored", partial, ("audio_fs",),
                      _finisher(finish))


def _finisher(fill):
    """``finish(description, given)``: add the arguments ``fill(audio_fs)`` derives, unless the caller gave them."""
    def finish(description: Dict[str, Any], given: Mapping[str, Any]) -> Dict[str, Any]:
        fs = description["kwargs"].get("audio_fs")
        if fill is None or isinstance(fs, bool) or not isinstance(fs, (int, float)) or fs <= 0:
            return description  # the front-end's constructor reports a bad sample rate
        derived = {k: v for k, v in fill(fs).items() if k not in given}
        return {**description, "kwargs": {**description["kwargs"], **derived}}
    return finish


def _ms(n_samples: int, fs: float) -> float:
    return n_samples * 1000.0 / fs


def _hz(value: float, fs: float) -> float:
    return min(round(float(value), _HZ_DECIMALS), fs / 2.0)


def _read_mel(t):
    win, (n_freqs, n_mels) = t["_window"].shape[0], t["_mel_fb"].shape
    if t["_window"].dim() != 1 or n_freqs != win // 2 + 1:
        raise ValueError(f"_mel_fb {tuple(t['_mel_fb'].shape)} does not fit a {win}-sample window")
    return {"n_mels": int(n_mels)}, lambda fs: {"win_ms": _ms(win, fs)}


def _read_gammatone(t):
    fc, (n, _, K) = t["_fc"].double(), t["_kernels"].shape
    if fc.shape != (n,):
        raise ValueError(f"_fc {tuple(fc.shape)} and _kernels {tuple(t['_kernels'].shape)} disagree")

    def fill(fs):
        limits = {"f_min": _hz(fc[0], fs), "f_max": _hz(fc[-1], fs)} if n > 1 else {}
        return {"kernel_ms": _ms(K, fs), **limits}
    return {"n_filters": int(n)}, fill


def _read_gammatonegram(t):
    from strfviewer.models.wav2spec.gammatonegram import EAR_Q, MIN_BW

    a = t["a_coeffs"].double()
    n = int(t["gain"].shape[0])
    if a.shape != (n, 3) or any(t[f"b{i}"].shape != (n, 3) for i in range(1, 5)):
        raise ValueError("the coefficient tensors must all be (n_filters, 3)")
    angle = torch.acos(torch.clamp(-a[:, 1] / (2.0 * torch.sqrt(a[:, 2])), -1.0, 1.0))

    def fill(fs):
        if n < 2:
            return {}
        cf = angle * fs / (2.0 * math.pi)
        c = EAR_Q * MIN_BW        # the highest centre lies one ERB-space step of n below f_max
        f_max = ((float(cf[-1]) + c) / (float(cf[0]) + c) ** (1.0 / n)) ** (n / (n - 1.0)) - c
        return {"f_min": _hz(cf[0], fs), "f_max": _hz(f_max, fs)}
    return {"n_filters": n}, fill


def _read_leaf(t):
    n = int(t["center_freq_"].shape[0])
    K, L = t["_n"].shape[-1], t["_pool_j"].shape[-1]
    return {"n_filters": n}, lambda fs: {"kernel_ms": _ms(K, fs), "pool_ms": _ms(L, fs)}


def _read_sincnet(t):
    n = int(t["low_hz_"].shape[0])
    return {"n_filters": n, "kernel_size": int(t["_n"].shape[-1])}, None


_READERS = {"CausalMel": _read_mel, "Gammatone": _read_gammatone, "Gammatonegram": _read_gammatonegram,
            "LEAF": _read_leaf, "SincNet": _read_sincnet}
