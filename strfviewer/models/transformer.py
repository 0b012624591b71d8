"""Transformer: causal self-attention over one token per frame."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from strfviewer.models.base import AudioEncodingModel
from strfviewer.models.layers import SinusoidalPositionalEncoding, build_causal_window_mask
from strfviewer.models.readouts import LinearReadout
from strfviewer.models.registry import register


@register("model", "Transformer")
class Transformer(AudioEncodingModel):
    """Causal Transformer encoder (Rancon et al. 2025; Vaswani et al. 2017).

    Each frame becomes one token: a ``Conv2d`` patchifier with kernel ``(freq_patch_size,
    time_patch_size)`` and stride ``(freq_patch_size, 1)`` (after ``time_patch_size - 1`` zero frames on
    the left) gives ``F / freq_patch_size`` patches of ``embedding_dim`` features, concatenated into a
    token of ``token_dim`` features; sinusoidal positions are added; ``n_layers`` encoder layers attend
    under a causal mask, limited to the last ``context_window`` frames when it is set; a per-frame
    linear readout gives the ``N`` responses (``output_activation`` default: identity).
    ``T`` (the gradmap window) is ``context_window`` or ``max(time_patch_size, 9)``.
    Input ``(B, 1, F, T)``, output ``(B, N, 1, T)``.
    """

    def __init__(self, n_frequency_bands: int = 34, freq_patch_size: Optional[int] = None,
                 time_patch_size: int = 1, context_window: Optional[int] = None, embedding_dim: int = 48,
                 n_heads: int = 1, n_layers: int = 1, out_neurons: int = 1,
                 output_activation: Optional[nn.Module] = None, prefiltering: Optional[nn.Module] = None,
                 wav2spec: Optional[nn.Module] = None):
        if context_window is not None and context_window < 1:
            raise ValueError(f"context_window must be >= 1 frame or None (unlimited), got {context_window}")
        window = context_window if context_window is not None else max(time_patch_size, 9)
        super().__init__(n_frequency_bands, window, out_neurons=out_neurons, prefiltering=prefiltering,
                         wav2spec=wav2spec)
        self.K_F = freq_patch_size if freq_patch_size is not None else self.F
        self.K_T = time_patch_size
        if self.K_F < 1 or self.F % self.K_F:
            raise ValueError(f"freq_patch_size={self.K_F} must divide the {self.F} bands")
        if self.K_T < 1:
            raise ValueError(f"time_patch_size must be >= 1, got {time_patch_size}")
        self.context_window, self.embedding_dim = context_window, embedding_dim
        self.n_heads, self.n_layers = n_heads, n_layers
        self.F_p = self.F // self.K_F
        self.token_dim = embedding_dim * self.F_p
        if self.token_dim % 2:
            raise ValueError(f"token size embedding_dim * F / freq_patch_size = {self.token_dim} must be even "
                             f"(sinusoidal positions)")
        if self.token_dim % n_heads:
            raise ValueError(f"token size {self.token_dim} must be divisible by n_heads={n_heads}")
        self.time_pad = nn.ZeroPad2d((self.K_T - 1, 0, 0, 0))
        self.patchify = nn.Conv2d(self.C_in, embedding_dim, kernel_size=(self.K_F, self.K_T), stride=(self.K_F, 1))
        self.pos_encoding = SinusoidalPositionalEncoding(self.token_dim)
        layer = nn.TransformerEncoderLayer(d_model=self.token_dim, nhead=n_heads, dim_feedforward=4 * self.token_dim,
                                           dropout=0.1, batch_first=True)
        self.tsfm = nn.TransformerEncoder(layer, num_layers=n_layers, enable_nested_tensor=False)
        self.readout = LinearReadout(self.token_dim, self.N, activation=output_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prefiltering(self.wav2spec(x))                         # (B, C_in, F, L)
        tokens = self.patchify(self.time_pad(x)).flatten(1, 2)          # (B, token_dim, L)
        tokens = self.pos_encoding(tokens.transpose(1, 2))              # (B, L, token_dim)
        mask = build_causal_window_mask(tokens.shape[1], self.context_window, device=tokens.device)
        y = self.tsfm(tokens, mask=mask)
        return self.readout(y.transpose(1, 2))

    def temporal_reach(self) -> Optional[int]:
        if self.context_window is None:
            return None
        return self.context_window + self.K_T - 1 + self.prefilter_reach()

    def core_summary(self) -> str:
        """One line describing the core, for the model panel."""
        window = f"last {self.context_window} frames" if self.context_window else "all the past"
        return (f"{self.n_layers} causal attention layer(s), {self.n_heads} head(s), {self.token_dim}-d tokens, "
                f"attends to {window}")
