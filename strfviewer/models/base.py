"""Base classes of every encoding model: the four-slot template and the audio specifics.

``forward`` runs ``wav2spec -> prefiltering -> core -> readout``. Input: a spectrogram ``(B, 1, F, T)``
(``wav2spec`` is then ``nn.Identity``) or a waveform ``(B, 1, T_audio)`` for models built with a
front-end; output ``(B, N, 1, T)``. Every model is strictly causal: the output at frame ``t`` depends
on input frames ``<= t`` only (in eval mode).

Constructor arguments are recorded automatically in ``model.init_kwargs`` (see
:mod:`strfviewer.models.capture`), which is what checkpoints store to rebuild the model.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from strfviewer.models.capture import CapturesInitKwargs


class NeuralModel(CapturesInitKwargs, nn.Module):
    """Encoding model of ``out_neurons`` neurons with slots ``wav2spec``, ``prefiltering``, ``core``,
    ``readout`` (the first three default to ``nn.Identity``; subclasses must set ``readout``).

    ``self.N`` (also ``self.O``, deepSTRF's name) is the number of neurons.
    """

    def __init__(self, out_neurons: int = 1):
        super().__init__()
        if not isinstance(out_neurons, int) or isinstance(out_neurons, bool) or out_neurons < 1:
            raise ValueError(f"out_neurons must be a positive int, got {out_neurons!r}")
        self.N = out_neurons
        self.wav2spec: nn.Module = nn.Identity()
        self.prefiltering: nn.Module = nn.Identity()
        self.core: nn.Module = nn.Identity()

    @property
    def O(self) -> int:  # noqa: E743 - deepSTRF's attribute name for the number of neurons
        return self.N

    def forward(self, stimulus: torch.Tensor) -> torch.Tensor:
        x = self.wav2spec(stimulus)
        x = self.prefiltering(x)
        return self.readout(self.core(x))

    def detach(self) -> None:
        """Cut stateful variables from the autograd graph (truncated BPTT). Stateless models: no-op."""

    def count_trainable_params(self) -> int:
        """Number of scalar parameters with ``requires_grad``."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def validate(self) -> None:
        """Raise ``ValueError`` when a slot is missing or not a module, or ``N`` is not a positive int."""
        if not isinstance(self.N, int) or self.N < 1:
            raise ValueError(f"{type(self).__name__}: N must be a positive int, got {self.N!r}")
        if not isinstance(getattr(self, "readout", None), nn.Module):
            raise ValueError(f"{type(self).__name__}.readout must be an nn.Module")
        for slot in ("wav2spec", "prefiltering", "core"):
            if not isinstance(getattr(self, slot, None), nn.Module):
                raise ValueError(f"{type(self).__name__}.{slot} must be an nn.Module, "
                                 f"got {type(getattr(self, slot, None)).__name__}")

    # -- checkpoints: implemented in strfviewer.io.checkpoints ------------------------------------------

    def save_pretrained(self, save_dir, *, metadata: Optional[dict] = None, model_card: Optional[str] = None):
        """Write ``config.json`` + ``model.safetensors`` (+ README.md) to ``save_dir``; returns the path."""
        from strfviewer.io.checkpoints import save_checkpoint

        return save_checkpoint(self, save_dir, metadata=metadata, model_card=model_card)

    @classmethod
    def from_pretrained(cls, path_or_repo_id, *, return_metadata: bool = False, **kwargs):
        """Load a checkpoint folder or Hugging Face Hub repo (strfviewer's or deepSTRF's format).

        The checkpoint must hold a ``cls`` (or a subclass) unless ``cls`` is a base class.
        """
        from strfviewer.io.checkpoints import load_checkpoint

        model, metadata = load_checkpoint(path_or_repo_id, **kwargs)
        if cls not in (NeuralModel, AudioEncodingModel) and not isinstance(model, cls):
            raise ValueError(f"{path_or_repo_id}: checkpoint holds a {type(model).__name__}, not a {cls.__name__}")
        return (model, metadata) if return_metadata else model

    def push_to_hub(self, repo_id: str, **kwargs) -> str:
        """Upload this model as a checkpoint to the Hugging Face Hub; returns the commit URL."""
        from strfviewer.io.checkpoints import push_to_hub

        return push_to_hub(self, repo_id, **kwargs)


class AudioEncodingModel(NeuralModel):
    """Audio encoding model on ``n_frequency_bands`` bands with a temporal window ``temporal_window_size``.

    Attributes: ``F`` bands, ``T`` window (frames; sizes the null stimulus of gradmaps), ``N`` neurons,
    ``C_in`` channels after the prefilter (its ``out_channels``, 1 without prefilter).
    ``wav2spec``, when given, turns a waveform ``(B, 1, T_audio)`` into ``(B, 1, F, T)`` and must have
    ``out_channels == n_frequency_bands``.
    """

    def __init__(self, n_frequency_bands: int, temporal_window_size: int, out_neurons: int = 1,
                 prefiltering: Optional[nn.Module] = None, wav2spec: Optional[nn.Module] = None):
        super().__init__(out_neurons=out_neurons)
        for name, value in (("n_frequency_bands", n_frequency_bands), ("temporal_window_size", temporal_window_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive int, got {value!r}")
        self.F, self.T = n_frequency_bands, temporal_window_size
        if wav2spec is not None:
            if not isinstance(wav2spec, nn.Module):
                raise ValueError(f"wav2spec must be an nn.Module, got {type(wav2spec).__name__}")
            if getattr(wav2spec, "out_channels", None) != n_frequency_bands:
                raise ValueError(f"wav2spec.out_channels ({getattr(wav2spec, 'out_channels', None)}) must equal "
                                 f"n_frequency_bands ({n_frequency_bands})")
            self.wav2spec = wav2spec
        if prefiltering is None:
            self.C_in = 1
        else:
            if not isinstance(prefiltering, nn.Module):
                raise ValueError(f"prefiltering must be an nn.Module, got {type(prefiltering).__name__}")
            n_bands = getattr(prefiltering, "F", n_frequency_bands)
            if n_bands != n_frequency_bands:
                raise ValueError(f"the prefilter is built for {n_bands} bands, the model has {n_frequency_bands}")
            self.prefiltering = prefiltering
            self.C_in = int(getattr(prefiltering, "out_channels", 1))

    @property
    def is_wav_native(self) -> bool:
        """True when the model takes a waveform ``(B, 1, T_audio)`` (it has a ``wav2spec`` front-end), also while
        a probe has set its front-end aside (see :meth:`front_end`)."""
        return self.front_end() is not None

    def front_end(self) -> Optional[nn.Module]:
        """The waveform front-end (``None`` for spectrogram input). A gradmap or dream probe that feeds the model
        spectrograms swaps ``wav2spec`` for ``nn.Identity`` for a while and keeps the front-end aside
        (:func:`set_front_end_aside`); another thread asking meanwhile still gets it."""
        aside = self.__dict__.get(_ASIDE)
        if aside is not None:
            return aside
        return None if isinstance(self.wav2spec, nn.Identity) else self.wav2spec

    def prefilter_reach(self) -> int:
        """Frames of past the prefilter reads (0 without prefilter)."""
        return int(getattr(self.prefiltering, "K", 1)) - 1 if not isinstance(self.prefiltering, nn.Identity) else 0

    def temporal_reach(self) -> Optional[int]:
        """Number of input frames (present included) an output frame depends on, prefilter included;
        ``None`` when unbounded (recurrent models, attention without a context window)."""
        return self.T + self.prefilter_reach()

    def validate(self) -> None:
        super().validate()
        for name in ("F", "T", "C_in"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{type(self).__name__}.{name} must be a positive int, got {value!r}")

    def STRF_gradmap(self, T: Optional[int] = None, **kwargs) -> torch.Tensor:
        """Gradient maps ``(N, 1, F, T)`` at the null stimulus (see
        :func:`strfviewer.analysis.gradmaps.strf_gradmap` for the options)."""
        from strfviewer.analysis.gradmaps import strf_gradmap

        return strf_gradmap(self, T=T, **kwargs)

    def waveform_gradmap(self, stimulus=None, neuron=None, reduce: str = "last") -> torch.Tensor:
        """Gradient of a neuron's response w.r.t. the waveform (wav-native models only); see
        :func:`strfviewer.analysis.gradmaps.waveform_gradmap`."""
        from strfviewer.analysis.gradmaps import waveform_gradmap

        return waveform_gradmap(self, stimulus, neuron=neuron, reduce=reduce)


_ASIDE = "_front_end_aside"


def set_front_end_aside(model: nn.Module, front_end: Optional[nn.Module]) -> None:
    """Record (``None``: forget) the front-end a probe has swapped out of ``model.wav2spec`` for a while, so that
    :meth:`AudioEncodingModel.front_end` and ``is_wav_native`` stay true meanwhile. Stored outside the module's
    parameters and submodules (no state-dict entry)."""
    if front_end is None:
        model.__dict__.pop(_ASIDE, None)
    else:
        model.__dict__[_ASIDE] = front_end
