"""Saves killed (SIGKILL) at every rename, exchange and fsync: the target is always a complete copy (old or new)
and the next open or save removes what the killed save left behind (issue #14, class 1)."""

import os
import signal
import sys

import pytest
import torch

from strfviewer.io import atomic
from strfviewer.io.atomic import atomic_dir, atomic_write_text, clean_leftovers, recover_dir
from strfviewer.io.checkpoints import load_checkpoint, save_checkpoint
from strfviewer.models.factory import ModelSpec, build_model

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin",
                                reason="killing a forked child at each step needs os.fork (Linux)")

_OPS = ("rename", "replace", "fsync")


def _instrument(monkeypatch_like, kill_at=None, when="before", no_exchange=False):
    """Wrap os.rename / os.replace / os.fsync and the atomic exchange with a counter; at call ``kill_at``
    SIGKILL this process before or after the call. Returns the counter (a one-item list)."""
    count = [0]

    def wrap(fn):
        def wrapped(*args, **kwargs):
            count[0] += 1
            if count[0] == kill_at and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            out = fn(*args, **kwargs)
            if count[0] == kill_at and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return out
        return wrapped

    for name in _OPS:
        monkeypatch_like(os, name, wrap(getattr(os, name)))
    exchange = (lambda a, b: False) if no_exchange else atomic._exchange
    monkeypatch_like(atomic, "_exchange", wrap(exchange))
    return count


def _count_ops(save, no_exchange):
    saved = {name: getattr(os, name) for name in _OPS}
    saved_exchange = atomic._exchange
    try:
        count = _instrument(setattr, no_exchange=no_exchange)
        save()
        return count[0]
    finally:
        for name, fn in saved.items():
            setattr(os, name, fn)
        atomic._exchange = saved_exchange


def _killed_child(save, kill_at, when, no_exchange):
    pid = os.fork()
    if pid == 0:  # child
        try:
            _instrument(setattr, kill_at=kill_at, when=when, no_exchange=no_exchange)
            save()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def _every_kill(save, no_exchange):
    """Yield after each kill point of ``save`` (each op, before and after it)."""
    n = _count_ops(save, no_exchange)
    assert n >= 3  # at least: fsyncs of the files, the swap
    for k in range(1, n + 1):
        for when in ("before", "after"):
            killed = _killed_child(save, k, when, no_exchange)
            assert killed, f"the save did not reach op {k}"
            yield k, when


@pytest.mark.parametrize("no_exchange", [False, True], ids=["exchange", "two-renames"])
def test_folder_save_killed_at_every_step(tmp_path, no_exchange):
    target = tmp_path / "out"

    def write(version):
        with atomic_dir(target) as tmp:
            (tmp / "a.txt").write_text(version)
            (tmp / "sub").mkdir()
            (tmp / "sub" / "b.txt").write_text(version)

    write("old")
    seen = set()
    for k, when in _every_kill(lambda: write("new"), no_exchange):
        folder = recover_dir(target)
        assert folder == target, (k, when)
        a, b = (target / "a.txt").read_text(), (target / "sub" / "b.txt").read_text()
        assert a == b and a in ("old", "new"), (k, when, a, b)
        seen.add(a)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], (k, when)
        write("old")
    assert seen == {"old", "new"}


def test_file_save_killed_at_every_step(tmp_path):
    target = tmp_path / "m.csv"
    atomic_write_text(target, "old\n")
    seen = set()
    for k, when in _every_kill(lambda: atomic_write_text(target, "new\n"), no_exchange=False):
        text = target.read_text()
        assert text in ("old\n", "new\n"), (k, when)
        seen.add(text)
        atomic_write_text(target, "old\n")  # the next save removes the killed one's temporary file
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv"], (k, when)
    assert seen == {"old\n", "new\n"}


def test_checkpoint_save_killed_at_every_step(tmp_path):
    torch.manual_seed(0)
    spec = ModelSpec(family="Linear", T=3)
    old, new = build_model(spec, 4, 2), build_model(spec, 4, 2)
    with torch.no_grad():
        for p in new.parameters():
            p.add_(1.0)
    folder = tmp_path / "ckpt"
    save_checkpoint(old, folder)
    state = {"old": old.state_dict(), "new": new.state_dict()}
    seen = set()
    for k, when in _every_kill(lambda: save_checkpoint(new, folder), no_exchange=True):
        model, _ = load_checkpoint(folder)  # recovers a copy set aside by the killed save
        got = model.state_dict()
        which = [v for v, sd in state.items() if all(torch.equal(got[n], sd[n]) for n in sd)]
        assert len(which) == 1, (k, when)
        seen.add(which[0])
        assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"], (k, when)
        save_checkpoint(old, folder)
    assert seen == {"old", "new"}


def test_leftovers_of_a_live_process_are_kept_and_legacy_ones_recovered(tmp_path):
    target = tmp_path / "ckpt"
    live = tmp_path / f".ckpt.{os.getpid()}.0123abcd.part"
    live.mkdir()
    legacy_old = tmp_path / ".ckpt.old-999999999"  # a PID that cannot run
    legacy_old.mkdir()
    (legacy_old / "config.json").write_text("{}")
    clean_leftovers(target)
    assert (target / "config.json").exists()  # the only complete copy was put back
    assert live.exists()  # still being written by a running process (this one)
