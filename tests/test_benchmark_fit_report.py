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
