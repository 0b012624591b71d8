"""QA: ``strfviewer sweep FILE --dry-run`` flags trials that cannot run, before hours of fitting start."""

from strfviewer.cli import main


def _write(tmp_path, text):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return str(path)


def test_dry_run_names_invalid_trials(tmp_path, capsys):
    sweep = _write(tmp_path, 'name = "x"\ndata = ["demo", "%s"]\n[fit]\nepochs = 1\n'
                             '[[model]]\nfamily = "Bogus"\n[[model]]\nfamily = "Linear"\nkernel = ["full", "nope"]\n'
                   % (tmp_path / "missing"))
    assert main(["sweep", sweep, "--dry-run"]) == 2
    out = capsys.readouterr().out
    assert "'Bogus'" in out and "unknown kernel 'nope'" in out and "missing" in out
    lines = out.strip().splitlines()
    assert "6 trial(s)" in lines[-1] and "5 invalid" in lines[-1]  # only Linear/full on demo can run


def test_dry_run_of_a_valid_sweep_lists_and_succeeds(tmp_path, capsys):
    sweep = _write(tmp_path, 'name = "x"\ndata = ["demo"]\nseeds = [0, 1]\n[[model]]\nfamily = "Linear"\n')
    assert main(["sweep", sweep, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "invalid" not in out and out.strip().splitlines()[-1] == "2 trial(s)"
