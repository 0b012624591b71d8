"""Spectrogram prefilters: midbrain-like adaptation applied per frequency band before the STRF.

Both filters convolve each band of ``(B, 1, F, T)`` along time with a causal high-pass kernel
``[+1 at lag 0, -C w a^1, ..., -C w a^(K-1) ... ]``: the present frame minus ``w`` times an exponential
average (decay ``a`` per frame) of the last ``K - 1`` frames, then half-wave rectify. Frames before the
start are filled with the first frame (no onset transient from the padding).

- :class:`ICAdaptation` (Willmore et al. 2016): ``w = 1``, frozen ``a`` derived from the band's
  centre frequency; output ``(B, 1, F, T)``.
- :class:`AdapTrans` (Rancon et al. 2024): learnable ``a`` for ON and OFF and a shared learnable ``w``;
  output ``(B, 2, F, T)`` with channel 0 = ON (onsets), channel 1 = OFF (offsets).
"""

from __future__ import annotations

from typing import Any, Dict, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from strfviewer.models.capture import CapturesInitKwargs
from strfviewer.models.options import Option
from strfviewer.models.registry import register
from strfviewer.models.scales import _SCALES, a_to_tau, freq_to_tau, get_CFs, tau_to_a  # noqa: F401 (re-export)

ArrayLike = Union[torch.Tensor, Sequence[float]]


def _as_vector(values: ArrayLike, name: str) -> torch.Tensor:
    t = torch.as_tensor(values, dtype=torch.float32).detach().clone()
    if t.dim() != 1 or t.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D vector (one value per band), got shape {tuple(t.shape)}")
    return t


def _exp_average_taps(a: torch.Tensor, K: int) -> torch.Tensor:
    """``(F, K-1)`` weights ``a^k / sum_j a^j`` for past lags ``k = 0..K-2`` (lag 0 = previous frame)."""
    powers = a[:, None] ** torch.arange(K - 1, device=a.device, dtype=a.dtype)[None, :]
    return powers / powers.sum(dim=1, keepdim=True)


def _highpass_kernel(a: torch.Tensor, w: torch.Tensor, K: int) -> torch.Tensor:
    """conv1d kernel ``(F, 1, K)`` (oldest lag first) of ``x[t] - w * expavg(x[t-1], x[t-2], ...)``."""
    past = -w[:, None] * _exp_average_taps(a, K)                      # lag 1 .. K-1
    kernel = torch.cat([torch.ones_like(a)[:, None], past], dim=1)    # lag 0 .. K-1
    return kernel.flip(1).unsqueeze(1)


def _filter_bands(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Causally filter ``(B, F, T)`` with a per-band kernel ``(F, 1, K)``, replicate-padding the past."""
    K = kernel.shape[-1]
    return F.conv1d(F.pad(x, (K - 1, 0), mode="replicate"), kernel, groups=kernel.shape[0])


def _check_input(x: torch.Tensor, n_bands: int, who: str) -> torch.Tensor:
    if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] != n_bands:
        raise ValueError(f"{who} expects a (B, 1, {n_bands}, T) spectrogram, got {tuple(x.shape)}")
    return x[:, 0]


#: options of both prefilters (the arguments of :func:`make_prefiltering`); the first four must match the data
#: (the fit dialog fills them from the dataset's front-end)
BAND_OPTIONS = (
    Option("dt", "float", 5.0, tooltip="Frame step of the spectrogram in ms (must match the data).",
           minimum=0.01, maximum=1000.0, label="Frame step (ms)"),
    Option("min_freq", "float", 500.0, tooltip="Lowest band centre in Hz (sets the slowest time constant).",
           minimum=1.0, maximum=100000.0, label="Lowest band (Hz)"),
    Option("max_freq", "float", 16000.0, tooltip="Highest band centre in Hz.", minimum=1.0, maximum=100000.0,
           label="Highest band (Hz)"),
    Option("scale", "choice", "mel", choices=tuple(_SCALES), tooltip="Spacing of the band centres.",
           label="Band scale"),
    Option("kernel_size", "int", None, tooltip="Kernel length in frames (default: three time constants of the "
           "lowest band at the frame step).", minimum=2, maximum=100000, label="Kernel (frames)"),
)
#: the band options that describe the data rather than the model
DATA_BOUND_OPTIONS = ("dt", "min_freq", "max_freq", "scale")


class _FromBands:
    """The factory's way to build a prefilter: :meth:`for_bands` (``n_frequency_bands`` + the options)."""

    @classmethod
    def for_bands(cls, n_frequency_bands: int, **options) -> nn.Module:
        """This prefilter for ``n_frequency_bands`` bands from its :data:`BAND_OPTIONS` (and AdapTrans's own);
        without a ``kernel_size``, one that reaches three time constants back in frames of ``dt`` ms
        (:func:`kernel_frames`), not deepSTRF's milliseconds-as-frames default of :func:`make_prefiltering`."""
        given = dict(options)
        if given.get("kernel_size") is None:
            given["kernel_size"] = kernel_frames(float(given.get("min_freq", PREFILTER_DEFAULTS["min_freq"])),
                                                 float(given.get("dt", PREFILTER_DEFAULTS["dt"])))
        return make_prefiltering(cls.__name__, int(n_frequency_bands), **given)


@register("prefilter", "ICAdaptation", aliases=("icadaptation", "willmore", "Willmore_Adaptation"),
          description="frozen inferior-colliculus adaptation (Willmore et al. 2016), one channel")
class ICAdaptation(_FromBands, CapturesInitKwargs, nn.Module):
    """Frozen inferior-colliculus adaptation (Willmore et al. 2016): ``(B, 1, F, T) -> (B, 1, F, T)``.

    ``init_a_vals``: per-band decay factor per frame (buffer ``a``); ``kernel_size``: frames in the
    kernel (present + ``kernel_size - 1`` past frames).
    """

    out_channels: int = 1
    OPTIONS = BAND_OPTIONS

    def __init__(self, init_a_vals: ArrayLike, kernel_size: int = 2):
        super().__init__()
        a = _as_vector(init_a_vals, "init_a_vals")
        if kernel_size < 2:
            raise ValueError(f"kernel_size must be >= 2 frames, got {kernel_size}")
        self.F, self.K = a.numel(), int(kernel_size)
        self.register_buffer("a", a)

    def build_kernels(self) -> torch.Tensor:
        """High-pass kernel ``(F, 1, K)`` with ``w = 1``."""
        return _highpass_kernel(self.a, torch.ones_like(self.a), self.K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_input(x, self.F, "ICAdaptation")
        return torch.relu(_filter_bands(x, self.build_kernels())).unsqueeze(1)


@register("prefilter", "AdapTrans", aliases=("adaptrans",),
          description="learnable ON/OFF adaptation (Rancon et al. 2024), two channels (onsets, offsets)")
class AdapTrans(_FromBands, CapturesInitKwargs, nn.Module):
    """Learnable ON/OFF adaptation (AdapTrans, Rancon et al. 2024): ``(B, 1, F, T) -> (B, 2, F, T)``.

    Stored through unconstrained parameters ``d_on, d_off, p`` (``(F,)`` each) with
    ``a = 1 / (1 + d^2)`` in (0, 1] and ``w = 1 / (1 + p^2)`` in (0, 1]. The ON kernel is
    ``x[t] - w * expavg_on(past)``; the OFF kernel is ``expavg_off(past) - w * x[t]``. Both outputs are
    half-wave rectified. With ``learnable=False`` the three vectors are buffers instead of parameters.
    """

    out_channels: int = 2
    OPTIONS = BAND_OPTIONS + (
        Option("learnable", "bool", True, tooltip="Train the adaptation time constants and weight with the model.",
               label="Learnable adaptation"),
        Option("init_w", "float", 0.75, tooltip="Initial weight of the past average (0 < w <= 1).", minimum=0.01,
               maximum=1.0, label="Initial weight w"),
    )

    def __init__(self, init_a_vals: ArrayLike, init_w_vals: ArrayLike, kernel_size: int = 2,
                 learnable: bool = True):
        super().__init__()
        a, w = _as_vector(init_a_vals, "init_a_vals"), _as_vector(init_w_vals, "init_w_vals")
        if a.shape != w.shape:
            raise ValueError(f"init_a_vals and init_w_vals differ in length: {a.numel()} vs {w.numel()}")
        if kernel_size < 2:
            raise ValueError(f"kernel_size must be >= 2 frames, got {kernel_size}")
        if not (bool(((a > 0) & (a <= 1)).all()) and bool(((w > 0) & (w <= 1)).all())):
            raise ValueError("AdapTrans needs 0 < a <= 1 and 0 < w <= 1 for every band")
        self.F, self.K, self.learnable = a.numel(), int(kernel_size), learnable
        d, p = torch.sqrt(1.0 / a - 1.0), torch.sqrt(1.0 / w - 1.0)
        for name, value in (("d_on", d), ("d_off", d.clone()), ("p", p)):
            if learnable:
                setattr(self, name, nn.Parameter(value.clone()))
            else:
                self.register_buffer(name, value.clone())

    @staticmethod
    def _unit(v: torch.Tensor) -> torch.Tensor:
        return 1.0 / (1.0 + v ** 2)

    def get_a(self):
        """Current ``(a_on, a_off)`` decay factors, detached on the CPU."""
        return self._unit(self.d_on.detach().cpu()), self._unit(self.d_off.detach().cpu())

    def get_w(self) -> torch.Tensor:
        """Current weights ``w`` of the past average, detached on the CPU."""
        return self._unit(self.p.detach().cpu())

    def build_kernels(self):
        """``(kernel_on, kernel_off)``, each ``(F, 1, K)`` oldest lag first."""
        w = self._unit(self.p)
        on = _highpass_kernel(self._unit(self.d_on), w, self.K)
        # OFF: the past average (weights summing to 1) minus w times the present frame
        off = -_highpass_kernel(self._unit(self.d_off), w, self.K) / w[:, None, None]
        off = torch.cat([off[..., :-1], -w[:, None, None]], dim=-1)
        return on, off

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_input(x, self.F, "AdapTrans")
        on, off = self.build_kernels()
        y = torch.stack([_filter_bands(x, on), _filter_bands(x, off)], dim=1)
        return torch.relu(y)


PREFILTER_DEFAULTS: Dict[str, Any] = dict(dt=5.0, min_freq=500.0, max_freq=16000.0, scale="mel",
                                          learnable=True, init_w=0.75, kernel_size=None)


def default_kernel_size(min_freq: float) -> int:
    """Kernel length used when none is given: ``round(3 * tau_max) + 1`` with ``tau_max`` the adaptation
    time constant (ms) of the lowest band, the same rule as deepSTRF 0.1.0. It counts the time constant's
    milliseconds as frames, so at dt >= 1 ms the kernel spans at least 3 time constants."""
    return int(round(3.0 * float(freq_to_tau(float(min_freq))))) + 1


def make_prefiltering(kind: str, n_frequency_bands: int, dt: float = 5.0, min_freq: float = 500.0,
                      max_freq: float = 16000.0, scale: str = "mel", learnable: bool = True,
                      init_w: float = 0.75, kernel_size=None) -> nn.Module:
    """Build a prefilter whose per-band time constants follow the bands' centre frequencies.

    ``kind``: 'AdapTrans' or 'ICAdaptation' (case-insensitive; 'willmore' = ICAdaptation).
    Centre frequencies: ``n_frequency_bands`` values between ``min_freq`` and ``max_freq`` Hz on
    ``scale``; time constants ``freq_to_tau`` (ms); decay per frame ``a = exp(-dt / tau)`` with ``dt``
    the frame step in ms. ``learnable`` and ``init_w`` only concern AdapTrans. The arguments are kept
    on the returned module as ``make_kwargs`` (used to rebuild a :class:`ModelSpec`).
    """
    key = kind.lower()
    if key not in ("adaptrans", "icadaptation", "willmore"):
        raise ValueError(f"unknown prefilter {kind!r}; known: AdapTrans, ICAdaptation")
    if dt <= 0:
        raise ValueError(f"dt must be > 0 ms, got {dt}")
    if not 0.0 < init_w <= 1.0:
        raise ValueError(f"init_w must be in (0, 1], got {init_w}")
    tau = freq_to_tau(get_CFs(min_freq, max_freq, n_frequency_bands, scale))
    if bool((tau <= 0).any()):
        raise ValueError(f"max_freq={max_freq} Hz is above the range of the time-constant map (tau <= 0)")
    a = tau_to_a(tau, dt=dt)
    K = int(kernel_size) if kernel_size is not None else default_kernel_size(min_freq)
    if key == "adaptrans":
        module = AdapTrans(a, torch.full_like(a, init_w), kernel_size=K, learnable=learnable)
    else:
        module = ICAdaptation(a, kernel_size=K)
    module.make_kwargs = dict(dt=dt, min_freq=min_freq, max_freq=max_freq, scale=scale, kernel_size=kernel_size,
                              **(dict(learnable=learnable, init_w=init_w) if key == "adaptrans" else {}))
    return module


def kernel_frames(min_freq: float, dt: float, n_tau: float = 3.0) -> int:
    """Kernel length in frames that reaches ``n_tau`` time constants back at ``dt`` ms per frame:
    ``round(n_tau * tau_max / dt) + 1``, ``tau_max`` (ms) being the time constant of the lowest band.
    The factory uses it for the models strfviewer builds (at 5 ms frames and 500 Hz: 131 frames, 650 ms)."""
    if dt <= 0:
        raise ValueError(f"dt must be > 0 ms, got {dt}")
    return int(round(n_tau * float(freq_to_tau(float(min_freq))) / float(dt))) + 1
