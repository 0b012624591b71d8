"""The spike-file parser and binning: good files, bad files (DataError naming file and line), junk."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strfviewer.data.errors import DataError
from strfviewer.data.spikes import bin_trials, parse_spike_text, read_spike_file


def test_lines_are_trials_with_trailing_spaces_and_blank_trials():
    parsed = parse_spike_text("11.093 25.906 \n\n3.5\t1.0 \n", "spike1")
    assert [t.tolist() for t in parsed.trials] == [[11.093, 25.906], [], [1.0, 3.5]]
    assert parsed.n_spikes == 4


def test_windows_line_ends_bom_and_no_final_newline():
    parsed = parse_spike_text(b"\xef\xbb\xbf1 2 \r\n3", "f")
    assert [t.tolist() for t in parsed.trials] == [[1.0, 2.0], [3.0]]


@pytest.mark.parametrize("text, line, words", [
    ("1 2\n3 abc\n", 2, "not a number"),
    ("1 2\n\n4 nan\n", 3, "not a number"),
    ("1 inf\n", 1, "not a number"),
    ("5 -2.5 7\n", 1, "negative spike time"),
    ("0x1F\n", 1, "not a number"),
    ("1_000\n", 1, "not a number"),
])
def test_bad_tokens_name_file_and_line(text, line, words):
    with pytest.raises(DataError) as info:
        parse_spike_text(text, "cell/spike7")
    err = info.value
    assert err.path == "cell/spike7" and err.line == line and words in err.message
    assert str(err).startswith(f"cell/spike7:{line}: ")
    assert isinstance(err, ValueError)


def test_negative_times_can_be_dropped_and_counted():
    parsed = parse_spike_text("-100 -0.5 3\n-1\n", "f", pre_onset="drop")
    assert [t.tolist() for t in parsed.trials] == [[3.0], []]
    assert parsed.n_pre_onset_dropped == 3


def test_empty_and_binary_files():
    with pytest.raises(DataError, match="empty spike file"):
        parse_spike_text("", "f")
    with pytest.raises(DataError, match="not UTF-8") as info:
        parse_spike_text(b"1 2\n\xff\xfe\x00", "f")
    assert info.value.line == 2


def test_read_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_spike_file(tmp_path / "spike1")


def test_binning_edges_drops_after_the_end_and_pads_missing_trials():
    trials = [np.array([0.0, 4.999, 5.0, 14.9, 15.0, 99.0]), np.array([])]
    counts, dropped = bin_trials(trials, n_frames=3, dt_ms=5.0, n_trials=3)
    assert counts.shape == (3, 3)
    assert counts[0].tolist() == [2, 1, 1] and counts[1].tolist() == [0, 0, 0]
    assert np.all(np.isnan(counts[2]))
    assert dropped == 2  # 15.0 and 99.0 lie past 3 * 5 ms


def test_binning_preserves_all_counts_inside():
    rng = np.random.default_rng(0)
    trials = [np.sort(rng.uniform(0, 1000, size=n)) for n in (0, 5, 50)]
    counts, dropped = bin_trials(trials, n_frames=200, dt_ms=5.0)
    assert dropped == 0 and counts.sum(axis=1).tolist() == [0, 5, 50]


_tokens = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10 ** 6, 10 ** 6).map(str),
    st.text(alphabet=st.sampled_from(list("0123456789.-+eE xX_\t,;nainf")), max_size=12),
    st.text(max_size=8),
)
_lines = st.lists(st.lists(_tokens, max_size=6).map(" ".join), max_size=6).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_lines, st.text(max_size=200)), policy=st.sampled_from(["error", "drop"]))
def test_random_text_ends_in_a_result_or_a_data_error(text, policy):
    try:
        parsed = parse_spike_text(text, "junk", pre_onset=policy)
    except DataError as err:
        assert err.path == "junk" and err.message
        return
    for trial in parsed.trials:
        assert trial.dtype == np.float64 and np.all(np.isfinite(trial)) and np.all(trial >= 0)
        assert np.all(np.diff(trial) >= 0)
    counts, dropped = bin_trials(parsed.trials, n_frames=10, dt_ms=5.0)
    assert counts.shape == (len(parsed.trials), 10)
    assert int(np.nansum(counts)) + dropped == parsed.n_spikes


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200))
def test_random_bytes_end_in_a_result_or_a_data_error(raw):
    try:
        parse_spike_text(raw, "junk")
    except DataError:
        pass
