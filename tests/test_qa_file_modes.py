"""QA: files and folders strfviewer writes get the usual permissions (umask), not the private 0600/0700 of
temporary files, so checkpoints and exports can be shared in a lab's group folder."""

import os
import stat

import pytest

from strfviewer.io.atomic import atomic_dir, atomic_path, atomic_write_text


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_follows_the_umask(tmp_path, umask_022):
    path = atomic_write_text(tmp_path / "metrics.json", "{}")
    assert _mode(path) == 0o644


def test_new_folder_follows_the_umask(tmp_path, umask_022):
    with atomic_dir(tmp_path / "checkpoint") as tmp:
        (tmp / "config.json").write_text("{}")
    assert _mode(tmp_path / "checkpoint") == 0o755


def test_replacing_a_file_keeps_its_mode(tmp_path, umask_022):
    path = tmp_path / "figure.png"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    with atomic_path(path) as tmp:
        tmp.write_bytes(b"new")
    assert path.read_bytes() == b"new" and _mode(path) == 0o640


def test_weights_file_follows_the_umask(tmp_path, umask_022):
    import torch

    from strfviewer.io.weights_file import write_tensors

    path = tmp_path / "model.safetensors"
    write_tensors(path, {"w": torch.zeros(3)})
    assert _mode(path) == 0o644  # the safetensors library alone creates it 0600
