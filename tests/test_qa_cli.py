"""QA of the command line as a user meets it: usage lines, typos, run-history listing and errors."""

import pytest

import strfviewer.cli as cli
from strfviewer.runs.history import RunHistory


@pytest.fixture
def no_app(monkeypatch):
    """Record what would have opened the desktop app instead of opening it."""
    opened = []
    monkeypatch.setattr(cli, "gui_main", lambda argv=None: opened.append(argv) or 0)
    return opened


@pytest.mark.parametrize("command", ["fit", "gradmap", "dream", "export", "runs", "sweep"])
def test_sub_command_usage_names_the_command(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    usage = capsys.readouterr().out.splitlines()[0]
    assert usage.startswith(f"usage: strfviewer {command} ")


def test_a_mistyped_command_is_an_error_not_the_app(no_app, capsys):
    assert cli.main(["fitt", "demo", "--out", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fitt" in err[0] and "'fit'" in err[0]
    assert no_app == []


def test_paths_and_demo_still_open_the_app(no_app, tmp_path):
    assert cli.main([]) == 0 and cli.main(["demo"]) == 0 and cli.main([str(tmp_path)]) == 0
    assert no_app == [[], ["demo"], [str(tmp_path)]]


def _history_with_long_label(path):
    cfg = {"spec": {"family": "LinearNonlinear", "kernel": "separable", "prefilter": "AdapTrans", "T": 15},
           "request": {"method": "sgd", "seed": 3}}
    with RunHistory(path) as h:
        rid = h.start_run(cfg, dataset_path="demo", dataset_hash="abc", trial_key="k", source="cli")
        h.finish_run(rid, metrics={"test": {"cc": [0.5], "cc_max": [1.0], "cc_norm": [0.5]}}, neuron_names=["a"],
                     n_params=1, epochs=2, seconds=1.0, device="cpu", checkpoint="")
        return rid, h.get(rid).label()


def test_runs_lists_whole_labels(tmp_path, capsys):
    path = tmp_path / "h.sqlite"
    _, label = _history_with_long_label(path)
    assert cli.main(["runs", "--history", str(path)]) == 0
    assert label in capsys.readouterr().out  # the seed at the end of a long label is not cut off


def test_runs_delete_of_a_missing_id_is_one_clean_line(tmp_path, capsys):
    path = tmp_path / "h.sqlite"
    _history_with_long_label(path)
    assert cli.main(["runs", "--history", str(path), "--delete", "999"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "999" in err[0]
    assert "'" not in err[0]  # the message, not the repr of a KeyError


@pytest.mark.parametrize("exc", [
    MemoryError(),
    RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
                 "tried to allocate 9248000000 bytes. Error code 12 (Cannot allocate memory)"),
    RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB"),
])
def test_running_out_of_memory_is_one_line(exc, monkeypatch, capsys):
    import strfviewer.commands.fit as fit_command

    def boom(args):
        raise exc

    monkeypatch.setattr(fit_command, "run", boom)
    assert cli.main(["fit", "demo", "--out", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "memory" in err[0]


def test_other_runtime_errors_keep_their_traceback(monkeypatch):
    import strfviewer.commands.fit as fit_command

    def boom(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(fit_command, "run", boom)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["fit", "demo", "--out", "x"])


def test_an_unusable_history_file_is_one_line(tmp_path, capsys):
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database")
    assert cli.main(["runs", "--history", str(junk)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(junk) in err[0]


@pytest.mark.parametrize("argv,message", [
    (["--limit", "0"], "--limit 0: expected at least 1 run"),
    (["--csv", "nowhere/runs.csv"], "does not exist"),
    (["--csv", "runs.txt"], "--csv runs.txt: expected a .csv file"),
    (["--csv", "r.csv", "--export-mlflow", "ml"], "--csv and --export-tensorboard/--export-mlflow cannot be combined"),
    (["--delete", "1", "--summary"], "--delete and --summary cannot be combined"),
])
def test_runs_bad_limit_or_csv_path_is_one_line(tmp_path, capsys, monkeypatch, argv, message):
    """`runs --limit -1` listed every run and `--csv` created missing folders, unlike every other output option."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "h.sqlite"
    _history_with_long_label(path)
    assert cli.main(["runs", "--history", str(path), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("argv", [
    ["gradmap", "ck", "--out", "g.npz"], ["dream", "ck", "--out", "d.npz"], ["export", "ck", "demo"],
    ["tuning", "ck", "--out", "t.csv"], ["compare", "a", "b", "--data", "demo", "--out", "c.csv"],
    ["dstrf", "ck", "--data", "demo", "--stimulus", "s", "--out", "d.npz"],
])
def test_every_command_that_runs_a_model_takes_device_threads_and_quiet(argv):
    """tuning (whose --jackknife refits the model), compare and dstrf lacked --threads, and the --device help
    differed between commands."""
    args = cli.build_parser().parse_args([*argv, "--device", "cpu", "--threads", "2", "--quiet"])
    assert args.threads == 2 and args.quiet and args.torch_threads_here


@pytest.mark.parametrize("command", ["gradmap", "dream"])
def test_gradmap_and_dream_out_must_be_an_npz_in_an_existing_folder(tmp_path, capsys, monkeypatch, command):
    """gradmap wrote `--out g.txt` as an NPZ named .txt, and made missing folders, unlike tuning or dstrf."""
    monkeypatch.chdir(tmp_path)
    for out, message in (("g.txt", "--out g.txt: expected a .npz file"), ("nowhere/g.npz", "does not exist")):
        assert cli.main([command, "missing-checkpoint", "--out", out]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "nowhere").exists()


def test_runs_on_a_missing_history_file_is_an_error_and_creates_nothing(tmp_path, capsys):
    """`runs --history typo.sqlite --summary` created an empty database (and its folders) and printed nothing."""
    missing = tmp_path / "nowhere" / "typo.sqlite"
    assert cli.main(["runs", "--history", str(missing), "--summary"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such run history" in err[0]
    assert not (tmp_path / "nowhere").exists()
