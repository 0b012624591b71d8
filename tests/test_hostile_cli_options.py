"""Issue #14, class 4: bad options are one-line errors given before any data or model is loaded; an unusable
run history is a one-line error too, and a refused history file is left byte-identical."""

import sqlite3

import pytest

import hostile_corpus as hc
from strfviewer.cli import main
from strfviewer.runs import history as history_module
from strfviewer.runs.history import SCHEMA_VERSION, HistoryError, RunHistory

MISSING = "/nonexistent/never/loaded"


def _cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("argv, option", [
    (["fit", MISSING, "--out", "{tmp}/o", "--threads", "-1"], "--threads -1"),
    (["fit", MISSING, "--out", "{tmp}/o", "--threads", "0"], "--threads 0"),
    (["fit", MISSING, "--out", "{tmp}/o", "--device", "tpu"], "--device tpu"),
    (["fit", MISSING, "--out", "{tmp}/o", "--epochs", "-3"], "epochs"),
    (["gradmap", MISSING, "--out", "{tmp}/g.npz", "--device", "nope"], "--device nope"),
    (["gradmap", MISSING, "--out", "{tmp}/g.npz", "-T", "0"], "-T 0"),
    (["dream", MISSING, "--out", "{tmp}/d.npz", "--lr", "0"], "--lr 0"),
    (["dream", MISSING, "--out", "{tmp}/d.npz", "--steps", "-1"], "--steps -1"),
    (["dream", MISSING, "--out", "{tmp}/d.npz", "--l2", "nan"], "--l2 nan"),
    (["export", MISSING, MISSING, "--figure", "{tmp}/f.png", "--dpi", "1e6"], "--dpi 1e+06"),
    (["export", MISSING, MISSING, "--figure", "{tmp}/f.png", "--dpi", "2400", "--size", "40,40"], "--dpi 2400"),
    (["sweep", MISSING, "--workers", "0"], "--workers 0"),
])
def test_bad_options_are_refused_before_loading(tmp_path, capsys, argv, option):
    rc, err = _cli(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert rc == 2 and len(err) == 1, err
    assert option in err[0] and MISSING not in err[0], err  # the option, not the (never read) data


def _read_only(monkeypatch):
    """SQLite opens every file read-only (a chmod would not stop root, who runs some CI)."""
    connect = sqlite3.connect

    def read_only(path, *args, **kwargs):
        return connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(history_module.sqlite3, "connect", read_only)


def test_read_only_history_is_a_one_line_error_before_loading(tmp_path, capsys, monkeypatch):
    db = tmp_path / "runs.sqlite"
    RunHistory(db).close()
    _read_only(monkeypatch)
    with pytest.raises(HistoryError, match="runs.sqlite"):
        RunHistory(db).check_writable()
    rc, err = _cli(capsys, "fit", MISSING, "--out", tmp_path / "o", "--history", db)
    assert rc == 2 and len(err) == 1 and str(db) in err[0] and "--no-history" in err[0], err
    assert MISSING not in err[0]


def test_refused_newer_history_stays_byte_identical(tmp_path, capsys):
    db = tmp_path / "runs.sqlite"
    con = sqlite3.connect(str(db))
    con.execute("CREATE TABLE future (x)")
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    before = db.read_bytes()
    with pytest.raises(HistoryError, match="newer"):
        RunHistory(db)
    rc, err = _cli(capsys, "fit", hc.write_npz(tmp_path), "--out", tmp_path / "o", "--history", db)
    assert rc == 2 and len(err) == 1 and "newer" in err[0]
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npz", "runs.sqlite"]  # no -wal / -shm either
