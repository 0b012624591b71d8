"""QA: messages a user gets for files that are not what their name says."""

import numpy as np
import pytest

from strfviewer.data import DataError, load


@pytest.mark.parametrize("content", [b"not a zip at all\n", b"\x80\x04K\x01.", b""])
def test_a_file_named_npz_that_is_no_archive_says_so(tmp_path, content):
    path = tmp_path / "cell.npz"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message and "zip" in message
    assert "pickle" not in message and "allow_pickle" not in message  # no advice to unpickle an unknown file


def test_a_plain_npy_array_renamed_npz_is_refused_clearly(tmp_path):
    path = tmp_path / "spec.npz"
    with open(path, "wb") as fh:
        np.save(fh, np.zeros((2, 3)))
    with pytest.raises(DataError, match="zip"):
        load(path)
