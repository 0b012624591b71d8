"""A lean forward pass of ``nn.TransformerEncoderLayer`` for the causal Transformer: the same parameters, the
same function, less work per call.

``nn.TransformerEncoder`` spends about a quarter of a CPU training step of the STRF Transformer (one 48-d
token per frame, a few hundred frames per stimulus) outside its matrix products: it rebuilds the causal mask,
converts it to a float mask and compares it with a generated causal mask at every call, and its dropout on the
``(L, L)`` attention weights draws one random number per weight (``bernoulli_``, about 7 ns each on one CPU
core). :func:`encoder_layer_forward` takes an additive mask built once (:class:`CausalBias`) and
:func:`dropout` draws its keep-or-drop decisions from 16-bit pieces of 64-bit random words (four decisions
per draw): keep probability ``1 - 6554 / 65536`` (drop 0.10001 for ``p = 0.1``), kept values scaled by its
inverse, so the expected output equals the input as with ``torch.nn.functional.dropout``. Measured on one
core, ``(400, 400)`` weights, forward + backward: 0.48 ms vs 1.26 ms. The whole layer: a training step of the
default Transformer on a 400-frame stimulus 5.1-5.6 ms instead of 8.5-9.9 ms (docs/benchmarks.md, "Fitting").
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from strfviewer.models.layers import build_causal_window_mask

_LEVELS = 1 << 16


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Inverted dropout of ``x`` (any shape) with drop probability ``p`` rounded to a multiple of 1/65536.

    Decisions come from the default torch generator (``torch.manual_seed`` makes them repeatable) and cost a
    quarter of a random draw each. Identity when not ``training`` or ``p == 0``; ``p == 1`` gives zeros.
    """
    if not training or p <= 0.0:
        return x
    if p >= 1.0:
        return torch.zeros_like(x)
    if x.device.type != "cpu":  # GPUs draw random numbers fast: torch's own dropout
        return F.dropout(x, p, True)
    drop_levels = max(1, min(_LEVELS - 1, round(p * _LEVELS)))
    n = x.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_(-2 ** 63, None)
    keep = (words.view(torch.int16)[:n] >= drop_levels - _LEVELS // 2).view(x.shape)
    return x * keep.to(x.dtype).mul_(_LEVELS / (_LEVELS - drop_levels))


class CausalBias:
    """Additive attention masks ``(L, L)`` (0 where query ``i`` may see key ``j``: ``j <= i`` and, with a
    ``window``, ``i - j < window``; ``-inf`` elsewhere), built once per window, device and dtype at the largest
    length asked so far (rounded up to a multiple of 256 frames, no more: an ``(L, L)`` mask is as large as the
    attention weights) and handed out as top-left views (the mask depends only on ``i - j``)."""

    def __init__(self) -> None:
        self._masks: Dict[Tuple[Optional[int], str, torch.dtype], torch.Tensor] = {}

    def __call__(self, L: int, window: Optional[int], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (window or None, str(device), dtype)
        mask = self._masks.get(key)
        if mask is None or mask.shape[0] < L:
            size = max(512, -(-L // 256) * 256)   # the next multiple of 256 frames: at most 255 rows to spare
            forbid = build_causal_window_mask(size, window, device=device)
            mask = torch.zeros(size, size, device=device, dtype=dtype).masked_fill_(forbid, float("-inf"))
            self._masks[key] = mask
        return mask[:L, :L]


def self_attention(attn: nn.MultiheadAttention, x: torch.Tensor, bias: torch.Tensor,
                   context: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``attn(x, context, context, attn_mask=bias)`` for batch-first tokens: queries from ``x`` ``(B, L, d)``, keys
    and values from ``context`` ``(B, S, d)`` (default: ``x`` itself); ``bias`` additive, ``(L, S)`` or
    ``(B * heads, L, S)``; dropout on the attention weights when ``attn`` is training. Returns ``(B, L, d)``."""
    B, L, d = x.shape
    heads = attn.num_heads
    width = d // heads
    weight, in_bias = attn.in_proj_weight, attn.in_proj_bias
    if context is None:
        qkv = F.linear(x, weight, in_bias).view(B, L, 3, heads, width)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)                  # each (B, heads, L, width)
    else:
        q = F.linear(x, weight[:d], None if in_bias is None else in_bias[:d]).view(B, L, heads, width).transpose(1, 2)
        kv = F.linear(context, weight[d:], None if in_bias is None else in_bias[d:])
        k, v = kv.view(B, context.shape[1], 2, heads, width).permute(2, 0, 3, 1, 4).unbind(0)   # (B, heads, S, width)
    S = k.shape[2]
    scores = torch.baddbmm(bias.expand(B * heads, L, S), q.reshape(B * heads, L, width),
                           k.reshape(B * heads, S, width).transpose(1, 2), alpha=1.0 / math.sqrt(width))
    weights = dropout(torch.softmax(scores, dim=-1), attn.dropout, attn.training)
    out = torch.bmm(weights, v.reshape(B * heads, S, width))              # (B * heads, L, width)
    out = out.view(B, heads, L, width).transpose(1, 2).reshape(B, L, d)
    return attn.out_proj(out)


def encoder_layer_forward(layer: nn.TransformerEncoderLayer, x: torch.Tensor, bias: torch.Tensor,
                          before: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``layer(x, src_mask=bias)`` for a batch-first ``nn.TransformerEncoderLayer`` with one attention module
    (``_qkv_same_embed_dim``) and no key padding: tokens ``(B, L, d)`` in and out, dropouts as in training
    when the layer is training (drawn by :func:`dropout`). ``before`` ``(B, S, d)``: the layer's input tokens at
    ``S`` earlier frames, which the queries attend to as well (keys and values ``[before, x]``; ``bias`` then
    ``(L, S + L)`` or ``(B * heads, L, S + L)``)."""
    def feed_forward(h):
        h = dropout(layer.activation(layer.linear1(h)), layer.dropout.p, layer.training)
        return dropout(layer.linear2(h), layer.dropout2.p, layer.training)

    def attend(h):                          # h: the queries' tokens, normalised as the layer does before attending
        context = None
        if before is not None:
            context = torch.cat([layer.norm1(before) if layer.norm_first else before, h], dim=1)
        return dropout(self_attention(layer.self_attn, h, bias, context), layer.dropout1.p, layer.training)

    if layer.norm_first:
        x = x + attend(layer.norm1(x))
        return x + feed_forward(layer.norm2(x))
    x = layer.norm1(x + attend(x))
    return layer.norm2(x + feed_forward(x))
