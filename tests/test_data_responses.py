"""Response smoothing (unit gain) and stimulus splits."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strfviewer.data.responses import hanning_kernel, smooth_responses
from strfviewer.data.splits import default_split, explicit_split, natural_sorted, resolve_split


@pytest.mark.parametrize("window_ms, dt_ms", [(21.0, 5.0), (21.0, 1.0), (5.0, 5.0), (50.0, 2.0)])
def test_kernel_has_unit_gain(window_ms, dt_ms):
    k = hanning_kernel(window_ms, dt_ms)
    assert k.sum() == pytest.approx(1.0) and len(k) % 2 == 1 and np.all(k > 0)


def test_smoothing_preserves_counts_spreads_and_centres():
    x = np.zeros((1, 1, 50), dtype=np.float32)
    x[0, 0, 25] = 4.0
    y = smooth_responses(x, 21.0, 1.0)
    assert y.sum() == pytest.approx(4.0, rel=1e-6)
    assert np.argmax(y[0, 0]) == 25 and y[0, 0, 25] < 4.0
    assert np.allclose(y[0, 0, 15:36], y[0, 0, 15:36][::-1])  # symmetric: no shift in time


@settings(max_examples=60, deadline=None)
@given(T=st.integers(1, 40), window=st.floats(1.0, 60.0), dt=st.sampled_from([1.0, 2.0, 5.0]),
       seed=st.integers(0, 1000))
def test_total_count_preserved_even_at_the_edges(T, window, dt, seed):
    rng = np.random.default_rng(seed)
    x = rng.poisson(2.0, (2, 3, T)).astype(np.float32)
    x[1, 2] = np.nan
    y = smooth_responses(x, window, dt)
    assert np.allclose(np.nansum(y, axis=-1), np.nansum(x, axis=-1), rtol=1e-5, atol=1e-4)
    assert np.array_equal(np.isnan(y), np.isnan(x)) and np.all(y[~np.isnan(y)] >= -1e-6)


def test_default_split_on_twenty_stimuli():
    names = [f"stim{k}" for k in range(20, 0, -1)]
    split = default_split(names)
    assert [n for n in natural_sorted(names) if split[n] == "train"] == [f"stim{k}" for k in range(1, 15)]
    assert [n for n in natural_sorted(names) if split[n] == "val"] == ["stim15", "stim16", "stim17"]
    assert [n for n in natural_sorted(names) if split[n] == "test"] == ["stim18", "stim19", "stim20"]
    assert list(split) == names  # keeps the caller's order


def test_grouped_split_puts_every_type_in_every_part():
    names = [f"con/{k}" for k in range(10)] + [f"rip/{k}" for k in range(10)]
    split = default_split(names, groups={n: n.split("/")[0] for n in names})
    for group in ("con", "rip"):
        parts = {split[n] for n in names if n.startswith(group)}
        assert parts == {"train", "val", "test"}


def test_resolve_split_forms():
    names = ["a", "b", "c"]
    assert resolve_split(names, {"a": "train", "b": "val", "c": "test"}) == {"a": "train", "b": "val", "c": "test"}
    assert resolve_split(names, (1, 0, 0)) == {"a": "train", "b": "train", "c": "train"}
    with pytest.raises(ValueError, match="both"):
        explicit_split(names, train=["a", "b"], val=["b"], test=["c"])
    with pytest.raises(ValueError, match="does not have"):
        explicit_split(names, train=["a", "b", "z"], test=["c"])
    with pytest.raises(ValueError, match="not one of"):
        resolve_split(names, {"a": "train", "b": "dev", "c": "test"})
