import pytest

from strfviewer.io.atomic import atomic_dir, atomic_path, atomic_write_text


def test_atomic_write_replaces_content(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert [x.name for x in tmp_path.iterdir()] == ["a.txt"]


def test_interrupted_write_keeps_old_file(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert p.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_dir_swaps_only_on_success(tmp_path):
    d = tmp_path / "ckpt"
    with atomic_dir(d) as tmp:
        (tmp / "f").write_text("v1")
    with pytest.raises(ValueError):
        with atomic_dir(d) as tmp:
            (tmp / "f").write_text("v2")
            raise ValueError("bad")
    assert (d / "f").read_text() == "v1"
    with atomic_dir(d) as tmp:
        (tmp / "f").write_text("v3")
    assert (d / "f").read_text() == "v3"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["ckpt"]
