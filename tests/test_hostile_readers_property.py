"""Issue #14: any byte string given to the spike-file or NPZ reader gives data or a one-line DataError, never
another exception, and never a large allocation (measured with tracemalloc, which sees numpy's buffers)."""

import io
import tracemalloc
import zipfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile_corpus as hc
from strfviewer.data import DataError, limits
from strfviewer.data.npz import load_npz
from strfviewer.data.spikes import parse_spike_text

#: no input of these tests is larger than a few kB: anything over this was allocated from a declared size
BOUND = 32 * 1024 ** 2
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _bounded(call):
    """``call()``'s result or its DataError, checking the peak allocation stays under :data:`BOUND`."""
    tracemalloc.start()
    try:
        try:
            result = call()
        except DataError as exc:
            text = str(exc)
            assert text and "\n" not in text, text
            result = exc
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < BOUND, peak
    return result


_SPIKE_TEXT = st.lists(st.one_of(st.sampled_from(["12.5", "-3", "1e400", "nan", "0x1F", "1_000", " ", "\t", "\n",
                                                  "\r\n", "\ufeff", "7", ".5", "1e3"]),
                                 st.text(max_size=8)), max_size=60).map("".join)


@SETTINGS
@given(raw=st.one_of(st.binary(max_size=2000), _SPIKE_TEXT.map(lambda t: t.encode("utf-8"))))
def test_spike_reader_gives_trials_or_a_data_error(raw):
    result = _bounded(lambda: parse_spike_text(raw, "spike1", pre_onset="drop"))
    if not isinstance(result, DataError):
        assert all(np.all(np.isfinite(t)) and np.all(t >= 0) for t in result.trials)


def _valid_npz_bytes() -> bytes:
    buffer = io.BytesIO()
    arrays = hc.npz_arrays()
    arrays["spec"], arrays["responses"] = arrays["spec"][:3, :, :20], arrays["responses"][:3, :, :, :20]
    arrays["split"] = arrays["split"][:3]
    np.savez(buffer, **arrays)
    return buffer.getvalue()


VALID_NPZ = _valid_npz_bytes()


def _npy_member(shape_text: str, descr: str) -> bytes:
    """A .npy member whose header declares ``shape_text`` (maybe huge) followed by a few data bytes."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}"
    header = header + " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1") + b"\x00" * 64


@st.composite
def npz_bytes(draw):
    kind = draw(st.sampled_from(["random", "mutated", "declared"]))
    if kind == "random":
        return draw(st.binary(max_size=3000))
    if kind == "mutated":  # a valid file with some bytes changed, cut, or appended
        data = bytearray(VALID_NPZ)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        cut = draw(st.integers(len(data) // 2, len(data)))
        return bytes(data[:cut])
    buffer = io.BytesIO()  # members with hostile headers: huge, negative or odd shapes and types
    with zipfile.ZipFile(buffer, "w") as archive:
        for key in draw(st.lists(st.sampled_from(["spec", "responses", "dt_ms", "n_frames", "freqs_hz", "split"]),
                                 min_size=1, max_size=4, unique=True)):
            dims = draw(st.lists(st.integers(-2, 10 ** 12), max_size=4))
            shape = "(" + "".join(f"{d}," for d in dims) + ")"
            descr = draw(st.sampled_from(["<f4", "<f8", "<i8", "|b1", "<U8", "|O", "<c16", "|V16"]))
            archive.writestr(f"{key}.npy", _npy_member(shape, descr))
    return buffer.getvalue()


@SETTINGS
@given(raw=npz_bytes())
def test_npz_reader_gives_a_dataset_or_a_data_error(tmp_path, raw):
    path = tmp_path / "fuzz.npz"
    path.write_bytes(raw)
    limit = limits.MAX_NPZ_BYTES
    limits.MAX_NPZ_BYTES = BOUND // 4  # below the bound, so that a declared size that passes fits under it
    try:
        result = _bounded(lambda: load_npz(path))
    finally:
        limits.MAX_NPZ_BYTES = limit
    if not isinstance(result, DataError):
        for s in result.stimuli:
            assert np.isfinite(s.spec).all()


def test_a_declared_shape_larger_than_the_member_is_refused_without_allocating(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("spec.npy", _npy_member("(1000000000,)", "<f4"))  # 4 GB declared, 64 bytes held
    path = tmp_path / "liar.npz"
    path.write_bytes(buffer.getvalue())
    result = _bounded(lambda: load_npz(path))
    assert isinstance(result, DataError) and "declares shape (1000000000,)" in str(result)
