"""Padding, masks, masked losses and masked BatchNorm statistics."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from strfviewer.fit.batching import StimulusBatches, length_grouped_order, masked_loss, pad_batch
from strfviewer.fit.chunks import chunk_stimuli
from strfviewer.fit.masked_norm import masked_batchnorm


@dataclass
class Stim:
    name: str
    spec: np.ndarray
    responses: np.ndarray


def _stimuli(lengths, F=4, N=3, R=2, seed=0):
    rng = np.random.default_rng(seed)
    return [Stim(f"s{i}", rng.normal(size=(1, F, L)).astype(np.float32),
                 rng.poisson(1.0, size=(N, R, L)).astype(np.float32)) for i, L in enumerate(lengths)]


class CausalConvBN(nn.Module):
    """Tiny causal model: conv over (F, 5 lags) -> per-neuron BatchNorm1d -> output (B, N, 1, T)."""

    def __init__(self, F=4, N=3, T=5):
        super().__init__()
        self.T = T
        self.conv = nn.Conv2d(1, N, kernel_size=(F, T))
        self.bn = nn.BatchNorm1d(N)

    def forward(self, x):
        x = nn.functional.pad(x, (self.T - 1, 0))
        y = self.conv(x)[:, :, 0, :]  # (B, N, T)
        return self.bn(y).unsqueeze(2)


def test_pad_batch_shapes_mask_and_target():
    stims = _stimuli([7, 4])
    stims[1].responses[0, 1] = np.nan  # neuron 0 misses a trial on stimulus 1
    b = pad_batch(stims)
    assert b.spec.shape == (2, 1, 4, 7) and b.responses.shape == (2, 3, 2, 7) and b.mask.shape == (2, 7)
    assert b.mask[1].tolist() == [True] * 4 + [False] * 3
    assert torch.isnan(b.responses[1, :, :, 4:]).all()
    assert (b.spec[1, :, :, 4:] == 0).all()
    assert not b.valid[1, :, :, 4:].any()
    # the target is the trial mean over existing trials
    np.testing.assert_allclose(b.target[1, 0, 0, :4].numpy(), stims[1].responses[0, 0])
    np.testing.assert_allclose(b.target[0, 2, 0].numpy(), stims[0].responses[2].mean(axis=0), rtol=1e-6)


def test_stimulus_batches_reuse_each_stimulus_trial_mean():
    """Training batches take each stimulus's trial mean computed once: equal to pad_batch's own."""
    stims = _stimuli([5, 3, 6, 2], seed=3)
    stims[2].responses[1, 0, :3] = np.nan
    batches = StimulusBatches(stims, batch_size=2, shuffle=True, seed=1)
    for _ in range(2):
        for b in batches:
            fresh = pad_batch([s for name in b.names for s in stims if s.name == name])
            assert torch.equal(b.target, fresh.target) and torch.equal(b.valid, fresh.valid)
    assert all(m is not None for m in batches._means)


def test_length_grouping_covers_every_stimulus_once_and_reduces_padding():
    lengths = [10, 50, 12, 48, 11, 52, 9, 49]
    rng = np.random.default_rng(0)
    groups = length_grouped_order(lengths, 2, rng, pool_batches=4)
    assert sorted(i for g in groups for i in g) == list(range(8))
    padded = sum(max(lengths[i] for i in g) * len(g) for g in groups)
    assert padded < 1.2 * sum(lengths)
    fixed = length_grouped_order(lengths, 3, None)
    assert [lengths[i] for i in fixed[0]] == [9, 10, 11]


def test_masked_loss_ignores_padding_and_matches_per_stimulus_loss():
    stims = _stimuli([9, 5, 9])
    model = CausalConvBN().eval()
    batch = pad_batch(stims)
    pred = model(batch.spec)
    junk = pred.clone()
    junk[1, :, :, 5:] = 1e6  # prediction at padded frames must not matter
    assert masked_loss(junk, batch).item() == pytest.approx(masked_loss(pred, batch).item(), rel=1e-6)
    # equal to the per-neuron mean over all valid bins of the stimuli taken one at a time
    errs = []
    for s in stims:
        p = model(torch.from_numpy(s.spec)[None])[0, :, 0].detach().numpy()
        errs.append((p - s.responses.mean(axis=1)) ** 2)
    expected = np.concatenate(errs, axis=1).mean(axis=1).mean()
    assert masked_loss(pred, batch).item() == pytest.approx(expected, rel=1e-5)
    # no gradient flows into padded predictions
    pred = pred.detach().requires_grad_(True)
    masked_loss(pred, batch).backward()
    assert (pred.grad[1, :, :, 5:] == 0).all()
    with pytest.raises(ValueError, match="not one of"):
        masked_loss(pred, batch, kind="huber")


def test_poisson_loss_is_minimal_at_the_target_rate():
    stims = _stimuli([20])
    batch = pad_batch(stims)
    best = masked_loss(batch.target.clamp(min=1e-3), batch, "poisson").item()
    assert masked_loss(batch.target.clamp(min=1e-3) * 1.3 + 0.1, batch, "poisson").item() > best


def test_causal_model_outputs_at_real_frames_do_not_depend_on_padding():
    stims = _stimuli([12, 6])
    model = CausalConvBN().eval()
    batch = pad_batch(stims)
    alone = model(torch.from_numpy(stims[1].spec)[None])
    np.testing.assert_allclose(model(batch.spec)[1, :, :, :6].detach(), alone[0].detach(), atol=1e-6)


def test_masked_batchnorm_uses_only_real_frames():
    torch.manual_seed(0)
    stims = _stimuli([12, 6, 3])
    batch = pad_batch(stims)
    model = CausalConvBN().train()
    with masked_batchnorm(model) as bn:
        bn.set_mask(batch.mask)
        out = model(batch.spec)
        running_mean = model.bn.running_mean.clone()
    # reference: BatchNorm statistics of the conv output over the real frames only
    with torch.no_grad():
        x = nn.functional.pad(batch.spec, (4, 0))
        y = model.conv(x)[:, :, 0, :]  # (B, N, T)
        real = torch.cat([y[b, :, :L] for b, L in enumerate(batch.lengths)], dim=1)  # (N, sum L)
        mean, var = real.mean(dim=1), real.var(dim=1, unbiased=False)
        ref = (y - mean[None, :, None]) / torch.sqrt(var[None, :, None] + model.bn.eps)
    for b, L in enumerate(batch.lengths):
        np.testing.assert_allclose(out[b, :, 0, :L].detach(), ref[b, :, :L], atol=1e-5)
    np.testing.assert_allclose(running_mean, 0.1 * mean, atol=1e-6)
    # the stock forward is back after the block; a padded batch through it gives other statistics
    assert "forward" not in model.bn.__dict__
    stock = model(batch.spec)
    assert not torch.allclose(stock[0, :, 0, :12], out[0, :, 0, :12], atol=1e-3)


def test_stimulus_batches_reshuffle_and_cache_eval():
    stims = _stimuli([5, 6, 7, 8, 9, 10, 11])
    train = StimulusBatches(stims, batch_size=3, shuffle=True, seed=1)
    assert len(train) == 3
    epochs = [[tuple(b.names) for b in train] for _ in range(4)]
    assert all(sorted(n for batch in e for n in batch) == sorted(s.name for s in stims) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1
    ev = StimulusBatches(stims, batch_size=3, shuffle=False)
    assert [b.names for b in ev] == [b.names for b in ev]
    with pytest.raises(ValueError):
        StimulusBatches([], 2)


def test_chunks_mask_their_warmup_and_cover_every_frame_once():
    stims = _stimuli([23], N=1, R=1)
    chunks = chunk_stimuli(stims, frames=10, warmup=4)
    assert [c.spec.shape[-1] for c in chunks] == [10, 14, 7]
    scored = np.concatenate([c.responses[0, 0][np.isfinite(c.responses[0, 0])] for c in chunks])
    np.testing.assert_array_equal(scored, stims[0].responses[0, 0])
    np.testing.assert_array_equal(chunks[1].spec, stims[0].spec[..., 6:20])
