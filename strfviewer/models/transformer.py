"""Transformer: causal self-attention over one token per frame."""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn as nn

from strfviewer.models.attention import CausalBias, encoder_layer_forward
from strfviewer.models.base import AudioEncodingModel
from strfviewer.models.layers import SinusoidalPositionalEncoding
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
        self._causal_bias = CausalBias()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self._tokens(x)                                        # (B, L, token_dim)
        bias = self._bias(tokens)
        for layer in self.tsfm.layers:                                  # = self.tsfm(tokens, mask=causal mask)
            tokens = encoder_layer_forward(layer, tokens, bias)
        if self.tsfm.norm is not None:
            tokens = self.tsfm.norm(tokens)
        return self.readout(tokens.transpose(1, 2))

    def _bias(self, tokens: torch.Tensor) -> torch.Tensor:
        """The additive causal (windowed) attention mask ``(L, L)`` for tokens ``(B, L, token_dim)``."""
        return self._causal_bias(tokens.shape[1], self.context_window, tokens.device, tokens.dtype)

    def _tokens(self, x: torch.Tensor, offset: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Tokens ``(B, L, token_dim)`` of the input ``(B, 1, F, L)``, positions from ``offset`` ``(B,)``."""
        x = self.prefiltering(self.wav2spec(x))                         # (B, C_in, F, L)
        tokens = self.patchify(self.time_pad(x)).flatten(1, 2)          # (B, token_dim, L)
        return self.pos_encoding(tokens.transpose(1, 2), offset)        # (B, L, token_dim)

    def past_frames(self) -> int:
        """Input frames before a window that :meth:`forward_window` needs: the prefilter's and the patches' past."""
        return self.prefilter_reach() + self.K_T - 1

    def layer_inputs(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Each encoder layer's input tokens ``(B, L, token_dim)`` for the input ``(B, 1, F, L)``: what the
        frames before a window contribute to its attention (keys and values), see :meth:`forward_window`."""
        tokens = self._tokens(x)
        bias = self._bias(tokens)
        inputs = []
        for layer in self.tsfm.layers:
            inputs.append(tokens)
            tokens = encoder_layer_forward(layer, tokens, bias)
        return tuple(inputs)

    def forward_window(self, x: torch.Tensor, past: Tuple[torch.Tensor, ...], first: torch.Tensor) -> torch.Tensor:
        """Responses ``(B, N, 1, W)`` at frames ``first[b] .. first[b] + W - 1`` of a stimulus, from windows ``x``
        ``(B, 1, F, past_frames() + W)`` of its input ending there (all inside it), given ``past``: per layer,
        the layer's input tokens ``(B, S, token_dim)`` at the ``S`` frames before each window
        (:meth:`layer_inputs`; rows before the stimulus start are ignored). The same values as :meth:`forward`
        over the whole stimulus; the earlier frames enter only through ``past``."""
        skip = self.past_frames()
        tokens = self._tokens(x, first - skip)[:, skip:]                 # (B, W, token_dim)
        B, W = tokens.shape[:2]
        S = past[0].shape[1] if past else 0
        lag = (S + torch.arange(W, device=x.device))[:, None] - torch.arange(S + W, device=x.device)[None, :]
        forbid = (lag < 0)[None] | ((first.to(x.device)[:, None] - S + torch.arange(S + W, device=x.device)) < 0)[:, None]
        if self.context_window:
            forbid = forbid | (lag >= self.context_window)[None]       # (B, W, S + W): True = forbidden
        bias = torch.zeros(forbid.shape, dtype=tokens.dtype, device=tokens.device).masked_fill_(forbid, float("-inf"))
        bias = bias.repeat_interleave(self.n_heads, dim=0)              # (B * heads, W, S + W)
        for layer, before in zip(self.tsfm.layers, past):
            tokens = encoder_layer_forward(layer, tokens, bias, before)
        if self.tsfm.norm is not None:
            tokens = self.tsfm.norm(tokens)
        return self.readout(tokens.transpose(1, 2))

    def temporal_reach(self) -> Optional[int]:
        if self.context_window is None:
            return None
        return self.context_window + self.K_T - 1 + self.prefilter_reach()

    def core_summary(self) -> str:
        """One line describing the core, for the model panel."""
        window = f"last {self.context_window} frames" if self.context_window else "all the past"
        return (f"{self.n_layers} causal attention layer(s), {self.n_heads} head(s), {self.token_dim}-d tokens, "
                f"attends to {window}")

