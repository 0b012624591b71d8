"""Constructor arguments of a registered waveform front-end (registry kind ``"frontend"``), filled from the data.

Front-ends name the same facts differently (strfviewer's ``GaborFilterbank``: ``sample_rate``, ``n_bands``,
``dt_ms``, ``f_max_hz``; deepSTRF's: ``audio_fs``, ``n_mels``/``n_filters``, ``hop_ms``, ``f_max``). Every
front-end is looked up by name in the registry and its signature is read, so a newly registered one works
with no change here. What the user did not give is filled from the data: the audio's sample rate (Hz), the
data's frame step (ms, so that one output frame is one response bin) and, when asked, the band count.

The sample rate filled in is the audio's own when a frame step is a whole number of samples at it, else the
next rate up at which it is (:func:`~strfviewer.models.wav2spec._common.frame_aligned_rate`: 22050 Hz audio
with 5 ms bins is resampled to 22200 Hz, 110 -> 111 samples per frame), so frame ``k`` stays response bin
``k`` all along a stimulus. An upper band limit left at the front-end's default is lowered to the Nyquist
frequency of that rate.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, Mapping, Optional

import torch.nn as nn

from strfviewer.models import registry
from strfviewer.models.wav2spec._common import frame_aligned_rate

#: constructor argument names of each fact, in the order they are looked for
RATE_NAMES = ("sample_rate", "audio_fs", "fs", "sr")
FRAME_NAMES = ("dt_ms", "hop_ms")
BAND_NAMES = ("n_bands", "n_filters", "n_mels", "out_channels")
FMAX_NAMES = ("f_max_hz", "f_max")


def frontend_class(name: str):
    """The registered front-end class ``name`` (aliases accepted); ``UnknownNameError`` lists the known ones."""
    return registry.get("frontend", name)


def _params(cls) -> Dict[str, inspect.Parameter]:
    return {k: p for k, p in inspect.signature(cls.__init__).parameters.items() if k != "self"
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _first(params: Mapping[str, Any], names) -> Optional[str]:
    return next((n for n in names if n in params), None)


def accepts(name: str, argument: str) -> bool:
    """Whether front-end ``name``'s constructor takes ``argument``."""
    return argument in _params(frontend_class(name))


def frontend_kwargs(name: str, given: Optional[Mapping[str, Any]], sample_rate: int, dt_ms: float,
                    n_bands: Optional[int] = None) -> Dict[str, Any]:
    """Keyword arguments for front-end ``name``: ``given`` plus the sample rate (Hz), frame step (ms) and band
    count (``n_bands``, when not None) under the front-end's own argument names, where not given.

    ``ValueError`` (one line naming the value) for an unknown argument, a band count in ``given`` that
    differs from ``n_bands`` (the model's F), a frame step that differs from ``dt_ms`` (one output frame
    must be one response bin), or a sample rate below twice a given ``f_max``.
    """
    cls = frontend_class(name)
    label = registry.entry("frontend", name).name
    params = _params(cls)
    out = dict(given or {})
    unknown = sorted(k for k in out if k not in params)
    if unknown:
        raise ValueError(f"front-end {label}: unknown argument(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(params)}")
    rate_key, frame_key, band_key = (_first(params, RATE_NAMES), _first(params, FRAME_NAMES),
                                     _first(params, BAND_NAMES))
    if rate_key is not None and out.get(rate_key) is None:
        out[rate_key] = frame_aligned_rate(int(sample_rate), float(dt_ms))
    if frame_key is not None:
        if out.get(frame_key) is None:
            out[frame_key] = float(dt_ms)
        elif abs(float(out[frame_key]) - float(dt_ms)) > 1e-9:
            raise ValueError(f"front-end {label}: {frame_key}={out[frame_key]:g} ms differs from the data's frame "
                             f"step {dt_ms:g} ms (one output frame must be one response bin)")
    if n_bands is not None and band_key is not None:
        if out.get(band_key) is None:
            out[band_key] = int(n_bands)
        elif int(out[band_key]) != int(n_bands):
            raise ValueError(f"front-end {label} has {out[band_key]} bands ({band_key}={out[band_key]}) but the "
                             f"model has F={n_bands} bands")
    rate = out.get(rate_key) if rate_key is not None else None
    fmax_key = _first(params, FMAX_NAMES)
    f_max = (given or {}).get(fmax_key) if fmax_key is not None else None
    if rate is not None and f_max is not None and float(rate) < 2.0 * float(f_max):
        raise ValueError(f"front-end {label}: sample rate {float(rate):g} Hz is below twice {fmax_key}="
                         f"{float(f_max):g} Hz (the Nyquist frequency {float(rate) / 2:g} Hz must reach it)")
    if rate is not None and fmax_key is not None and f_max is None:
        default = params[fmax_key].default
        if isinstance(default, (int, float)) and not isinstance(default, bool) and default > float(rate) / 2:
            out[fmax_key] = float(rate) / 2                # the default band range, cut at Nyquist
    return out


def rate_note(name: str, kwargs: Mapping[str, Any], audio_rate: int) -> Optional[str]:
    """A sentence saying that the audio is resampled for front-end ``name`` (built with ``kwargs``) and why, or
    None when it is used at its own ``audio_rate``."""
    params = _params(frontend_class(name))
    rate_key, frame_key = _first(params, RATE_NAMES), _first(params, FRAME_NAMES)
    rate = kwargs.get(rate_key) if rate_key is not None else None
    if rate is None or int(rate) == int(audio_rate):
        return None
    label = registry.entry("frontend", name).name
    why = ""
    if frame_key is not None and kwargs.get(frame_key) is not None:
        step = float(kwargs[frame_key])
        exact = int(audio_rate) * step / 1000.0
        if abs(exact - round(exact)) > 1e-6 * max(1.0, exact):
            why = (f": a {step:g} ms frame is {exact:g} samples at {int(audio_rate)} Hz, "
                   f"{int(rate) * step / 1000.0:g} at {int(rate)} Hz")
    return f"audio resampled from {int(audio_rate)} Hz to {int(rate)} Hz for front-end {label}{why}"


def build_frontend(name: str, kwargs: Mapping[str, Any]) -> nn.Module:
    """The front-end ``name`` built with ``kwargs``; its refusals as one ``ValueError`` line naming it."""
    label = registry.entry("frontend", name).name
    try:
        module = frontend_class(name)(**dict(kwargs))
    except (TypeError, ValueError, AssertionError) as exc:
        raise ValueError(f"front-end {label}: {exc}") from None
    check_frontend(module, label)
    return module


def check_frontend(module: nn.Module, label: str = "") -> None:
    """``ValueError`` unless ``module`` states the front-end interface: ``out_channels`` (F), ``sample_rate``
    (Hz), ``hop`` (samples per frame) and ``dt_ms``, all positive."""
    label = label or type(module).__name__
    for attr in ("out_channels", "sample_rate", "hop", "dt_ms"):
        value = getattr(module, attr, None)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
            raise ValueError(f"front-end {label} has no positive {attr} (got {value!r}); a waveform front-end "
                             "states out_channels, sample_rate, hop and dt_ms")


def is_fixed(module: nn.Module) -> bool:
    """True when none of the front-end's parameters is trained (``requires_grad`` False everywhere)."""
    return not any(p.requires_grad for p in module.parameters())


def band_centres_hz(module: nn.Module):
    """The front-end's band centre frequencies ``(F,)`` in Hz as a float64 array, or None when it states none
    (a ``center_frequencies()`` method, or a ``center_frequencies``/``cf``/``centre_freqs`` array)."""
    import numpy as np
    import torch

    for attr in ("center_frequencies", "centre_frequencies", "cf", "centre_freqs", "center_freqs"):
        value = getattr(module, attr, None)
        if callable(value):
            try:
                value = value()
            except Exception:  # a method that needs arguments: not this one
                continue
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        if value is None:
            continue
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
        if arr.shape[0] == int(module.out_channels):
            return arr
    return None


def model_band_centres_hz(model):
    """Band centres ``(F,)`` in Hz of a waveform-native model's own front-end (what its gradmaps' frequency axis
    means), or None for a spectrogram model or a front-end that states none."""
    front = model.front_end() if callable(getattr(model, "front_end", None)) else None
    return None if front is None else band_centres_hz(front)
