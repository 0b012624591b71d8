"""The fitting benchmark's report helpers (benchmarks/fit_vs_deepstrf.py): seeds and the per-seed summary."""

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "fit_vs_deepstrf.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("fit_vs_deepstrf", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(row, seed, theirs, ours, ratio):
    return {"row": row, "seed": seed, "deepstrf_final": theirs, "ours_final": ours, "reach_ratio": ratio}


def test_parse_seeds(bench):
    assert bench.parse_seeds("0,1, 2") == [0, 1, 2]
    with pytest.raises(SystemExit, match="comma-separated integers"):
        bench.parse_seeds("0,x")
    with pytest.raises(SystemExit, match="at least one seed"):
        bench.parse_seeds(",")


def test_seeds_summary_means_and_medians(bench):
    results = {"cell": [_run("NRF", 0, 0.70, 0.74, 0.4), _run("NRF", 1, 0.74, 0.78, 0.6), _run("NRF", 2, 0.72, 0.73, 0.9),
                        _run("Mamba", 0, 0.82, 0.80, None), _run("Mamba", 1, 0.78, 0.79, 0.6),
                        _run("Mamba", 2, 0.80, 0.78, None)]}
    lines = bench.seeds_markdown(results).splitlines()
    assert len(lines) == 4
    nrf, mamba = lines[2], lines[3]
    assert "| cell | NRF | 0 / 1 / 2 | 0.700 / 0.740 / 0.720 | 0.740 / 0.780 / 0.730 | +0.030 |" in nrf
    assert nrf.endswith("0.40x / 0.60x / 0.90x (0.60x) |")
    assert "| -0.010 |" in mamba
    assert mamba.endswith("n.r. / 0.60x / n.r. (n.r.) |")          # not reached counts as worst
    assert bench.several_seeds(results) and not bench.several_seeds({"cell": results["cell"][:1]})


def test_summary_without_deepstrf_says_na(bench):
    line = bench.seeds_markdown({"demo": [_run("LN", 0, None, 0.9, None), _run("LN", 1, None, 0.8, None)]})
    assert "| n/a |" in line.splitlines()[2]


def test_summary_table_says_whether_both_targets_hold(bench):
    results = {"cell": [_run("NRF", 0, 0.70, 0.74, 0.4), _run("NRF", 1, 0.74, 0.73, 0.6), _run("NRF", 2, 0.72, 0.73, 0.3),
                        _run("Mamba", 0, 0.82, 0.80, None), _run("Mamba", 1, 0.78, 0.79, 0.2),
                        _run("Mamba", 2, 0.80, 0.80, 0.3)]}
    lines = bench.summary_markdown(results).splitlines()
    assert len(lines) == 4
    assert lines[2] == ("| cell | NRF | 0-2 | 0.720 | 0.733 | +0.013 | 1 of 3 | 0.40x | 1 of 3 | yes |")
    # a mean below deepSTRF's fails the row whatever the time; n.r. counts above 0.5
    assert lines[3] == ("| cell | Mamba | 0-2 | 0.800 | 0.797 | -0.003 | 1 of 3 | 0.30x | 1 of 3 | no |")


def test_merge_keeps_one_run_per_row_and_seed_the_later_file_winning(bench, tmp_path):
    import json

    first = tmp_path / "a.json"
    second = tmp_path / "b.json"
    first.write_text(json.dumps({"cell": [_run("NRF", 0, 0.7, 0.7, 0.4), _run("NRF", 1, 0.7, 0.6, 0.4),
                                          _run("Mamba", 0, 0.8, 0.8, 0.5)]}))
    second.write_text(json.dumps({"cell": [_run("NRF", 1, 0.7, 0.9, 0.2), _run("NRF", 2, 0.7, 0.8, 0.3)],
                                  "demo": [_run("LN", 0, 0.9, 0.95, 0.1)]}))
    merged = bench.merge_runs([first, second])
    assert [(r["row"], r["seed"], r["ours_final"]) for r in merged["cell"]] == [
        ("NRF", 0, 0.7), ("NRF", 1, 0.9), ("NRF", 2, 0.8), ("Mamba", 0, 0.8)]
    assert [r["row"] for r in merged["demo"]] == ["LN"]
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(SystemExit, match="bad.json is not a file written by --json"):
        bench.merge_runs([bad])
    with pytest.raises(SystemExit, match="missing.json is not a file written by --json"):
        bench.merge_runs([tmp_path / "missing.json"])
