"""Sweeps end to end on the demo data: local worker processes, a local Ray instance, skip and cancel logic."""

import json
import math
from pathlib import Path

import pytest

from strfviewer.data import make_demo, save_npz
from strfviewer.io.checkpoints import load_checkpoint
from strfviewer.runs.history import RunHistory
from strfviewer.runs.sweep_spec import SweepSpec
from strfviewer.runs.sweeper import CancelToken, run_sweep
from strfviewer.runs.trial import execute_trial


def _spec(data, seeds=(0, 1), bad=True):
    models = [{"family": "Linear", "T": 10, "method": "ridge"}]
    if bad:
        models.append({"family": "Linear", "T": 10, "kernel": "no-such-kernel", "method": "sgd"})
    return SweepSpec.from_dict({"name": "t", "data": list(data), "seeds": list(seeds), "model": models,
                                "fit": {"epochs": 1}})


@pytest.fixture(scope="module")
def second_cell(tmp_path_factory):
    path = tmp_path_factory.mktemp("cells") / "demo_seed1.npz"
    save_npz(make_demo(seed=1, n_neurons=4, n_stimuli=8).dataset, path)
    return str(path)


class InlineExecutor:
    """Runs trials in this process one at a time (tests the driver's logic without processes)."""

    workers = 1

    def __init__(self):
        self.submitted = []
        self.cancelled = []

    def submit(self, trial):
        self.submitted.append(trial)
        return len(self.submitted) - 1

    def wait(self, handles, timeout_s):
        h = handles[0]
        try:
            return [(h, execute_trial(self.submitted[h], torch_threads=1), None)], handles[1:]
        except Exception as exc:
            return [(h, None, exc)], handles[1:]

    def cancel(self, handles, force=False):
        self.cancelled.append((list(handles), force))


def test_local_processes_record_results_skip_repeats_and_record_failures(tmp_path, second_cell):
    from strfviewer.runs.executors import LocalExecutor

    spec = _spec(["demo", second_cell])
    events = []
    ex = LocalExecutor(workers=2)
    try:
        with RunHistory(tmp_path / "h.sqlite") as h:
            report = run_sweep(spec, h, ex, progress=lambda p: events.append((p.done, p.failed, p.running)))
            assert (report.progress.done, report.progress.failed, report.progress.skipped) == (4, 4, 0)
            runs = h.runs()
            assert len(runs) == 8
            done = [r for r in runs if r.status == "done"]
            failed = [r for r in runs if r.status == "failed"]
            assert len(done) == 4 and len(failed) == 4
            assert all("no-such-kernel" in r.error for r in failed)
            assert {r.seed for r in done} == {0, 1} and len({r.dataset_hash for r in done}) == 2
            for r in done:
                assert r.source == "sweep:t" and r.n_params > 0 and r.seconds > 0
                assert 0 < r.mean_test_cc_norm <= 1.2
                model, meta = load_checkpoint(r.checkpoint)
                assert len(meta["neuron_names"]) == len(r.neuron_names)
                assert meta["dataset"]["hash"] == r.dataset_hash  # same identity as the history row
                saved = json.loads((Path(r.checkpoint) / "metrics.json").read_text())
                assert math.isclose(saved["test"]["mean_cc_norm"], r.mean_test_cc_norm)
            assert max(e[2] for e in events) == 2  # two trials ran at once
            # Re-running skips what is done and tries the failed ones again.
            again = run_sweep(spec, h, ex)
            assert (again.progress.skipped, again.progress.done, again.progress.failed) == (4, 0, 4)
    finally:
        ex.shutdown()


def test_ray_executor_runs_the_same_sweep(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'strfviewer[cluster]')")
    from strfviewer.runs.executors import RayExecutor

    try:
        ex = RayExecutor("local", num_cpus=2)
    except Exception as exc:  # pragma: no cover - environment-dependent
        pytest.skip(f"a local Ray instance could not start: {exc}")
    try:
        with RunHistory(tmp_path / "h.sqlite") as h:
            report = run_sweep(_spec(["demo"], seeds=(0,)), h, ex)
            assert (report.progress.done, report.progress.failed) == (1, 1)
            (ok,) = h.runs(status="done")
            assert ok.mean_test_cc_norm > 0 and Path(ok.checkpoint, "model.safetensors").is_file()
            (bad,) = h.runs(status="failed")
            assert "no-such-kernel" in bad.error
    finally:
        ex.shutdown()
        assert not ray.is_initialized()


def test_first_cancel_stops_pending_trials_and_lets_running_ones_finish(tmp_path):
    spec = _spec(["demo"], seeds=(0, 1, 2), bad=False)
    cancel = CancelToken()
    ex = InlineExecutor()

    def on_progress(p):
        if p.done == 1:
            cancel.request()

    with RunHistory(tmp_path / "h.sqlite") as h:
        report = run_sweep(spec, h, ex, progress=on_progress, cancel=cancel)
        assert (report.progress.done, report.progress.cancelled) == (1, 2)
        assert len(ex.submitted) == 1 and ex.cancelled == []
        assert [r.status for r in h.runs()] == ["done"]


def test_second_cancel_kills_running_trials(tmp_path):
    spec = _spec(["demo"], seeds=(0,), bad=False)
    cancel = CancelToken()

    class Hanging(InlineExecutor):
        def wait(self, handles, timeout_s):
            if self.cancelled:
                return [(handles[0], None, RuntimeError("killed"))], []
            cancel.request()
            cancel.request()
            return [], handles

    ex = Hanging()
    with RunHistory(tmp_path / "h.sqlite") as h:
        report = run_sweep(spec, h, ex, cancel=cancel)
        assert report.progress.cancelled == 1 and ex.cancelled[0][1] is True
        (r,) = h.runs()
        assert r.status == "failed" and "second cancel" in r.error


def test_missing_dataset_is_a_failed_trial_not_a_crash(tmp_path):
    spec = _spec([str(tmp_path / "nowhere")], seeds=(0,), bad=False)
    with RunHistory(tmp_path / "h.sqlite") as h:
        report = run_sweep(spec, h, InlineExecutor())
        assert report.progress.failed == 1
        (r,) = h.runs()
        assert r.status == "failed" and "nowhere" in r.error


def test_cli_sweep_and_runs(tmp_path, capsys):
    from strfviewer.cli import main

    sweep = tmp_path / "s.toml"
    sweep.write_text('name = "cli"\ndata = "demo"\nseeds = [0]\n[[model]]\nfamily = "Linear"\nT = 8\nmethod = "ridge"\n')
    hist = tmp_path / "h.sqlite"
    assert main(["sweep", str(sweep), "--dry-run"]) == 0
    assert "1 trial(s)" in capsys.readouterr().out
    assert main(["sweep", str(sweep), "--workers", "1", "--history", str(hist)]) == 0
    assert "1 done, 0 failed" in capsys.readouterr().out
    assert main(["sweep", str(sweep), "--workers", "1", "--history", str(hist)]) == 0
    assert "1 skipped" in capsys.readouterr().out
    assert main(["runs", "--history", str(hist), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "Linear" in out and "1" in out
    assert main(["runs", "--history", str(hist), "--csv", str(tmp_path / "r.csv")]) == 0
    assert len((tmp_path / "r.csv").read_text().strip().splitlines()) == 2
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2


def _ridge_sweep(name):
    return SweepSpec.from_dict({"name": name, "data": "demo", "seeds": [0, 1],
                                "model": [{"family": "Linear", "T": 8, "method": "ridge"}]})


def test_a_renamed_sweep_names_the_runs_it_matched_and_force_reruns(tmp_path):
    with RunHistory(tmp_path / "h.sqlite") as h:
        first = run_sweep(_ridge_sweep("kernels"), h, InlineExecutor())
        assert first.progress.done == 2 and first.matched == []
        renamed = run_sweep(_ridge_sweep("kernels-v2"), h, InlineExecutor())
        assert (renamed.progress.done, renamed.progress.skipped) == (0, 2)
        assert [(run_id, source) for _, run_id, source in renamed.matched] == [
            (first.run_ids[0], "sweep:kernels"), (first.run_ids[1], "sweep:kernels")]
        assert renamed.describe_matched() == f"runs {first.run_ids[0]}, {first.run_ids[1]} (sweep:kernels)"
        forced = run_sweep(_ridge_sweep("kernels-v2"), h, InlineExecutor(), force=True)
        assert (forced.progress.done, forced.progress.skipped, forced.matched) == (2, 0, [])


def test_cli_says_which_runs_a_skipping_sweep_matched(tmp_path, capsys, monkeypatch):
    import strfviewer.runs.executors as executors
    from strfviewer.cli import main

    class Inline(InlineExecutor):
        def describe(self):
            return "this process"

        def shutdown(self):
            pass

    monkeypatch.setattr(executors, "make_executor", lambda *args, **kwargs: Inline())
    hist = tmp_path / "h.sqlite"
    for name in ("a", "b"):
        (tmp_path / f"{name}.toml").write_text(f'name = "{name}"\ndata = "demo"\n[[model]]\nfamily = "linear"\n'
                                               f'T = 8\nmethod = "ridge"\n')
    assert main(["sweep", str(tmp_path / "a.toml"), "--history", str(hist)]) == 0
    capsys.readouterr()
    assert main(["sweep", str(tmp_path / "b.toml"), "--history", str(hist)]) == 0
    out = capsys.readouterr().out
    assert "0 done, 0 failed, 1 skipped" in out
    assert "skipped trials match finished run 1 (sweep:a)" in out and "--force runs them again" in out
    assert main(["sweep", str(tmp_path / "b.toml"), "--history", str(hist), "--force"]) == 0
    assert "1 done, 0 failed, 0 skipped" in capsys.readouterr().out


def test_runs_summary_prints_no_sd_for_a_single_run(tmp_path, capsys):
    from strfviewer.cli import main

    hist = tmp_path / "h.sqlite"
    with RunHistory(hist) as h:
        run_sweep(_ridge_sweep("one"), h, InlineExecutor())  # two seeds: one configuration, two runs
        run_sweep(SweepSpec.from_dict({"name": "single", "data": "demo", "seeds": [0],
                                       "model": [{"family": "Linear", "T": 5, "method": "ridge"}]}), h,
                  InlineExecutor())
    assert main(["runs", "--history", str(hist), "--summary"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "nan" not in "\n".join(lines)
    single = [line for line in lines[1:] if line.split()[-5] == "1"]  # the runs column
    assert len(single) == 1 and single[0].split()[-1] == "-"
    assert any(line.split()[-5] == "2" and line.split()[-1] != "-" for line in lines[1:])
    # both are "Linear": the summary names the setting that tells them apart
    assert sorted(line.split("   ")[0].strip() for line in lines[1:]) == ["Linear (T=5)", "Linear (T=8)"]
