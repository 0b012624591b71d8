import pytest

from strfviewer.data.identity import dataset_hash
from strfviewer.runs.sweep_spec import SweepError, SweepSpec

TOML = """
name = "kernels"
data = ["demo", "demo:1"]
seeds = [0, 1, 2]

[fit]
epochs = 3
patience = 2

[[model]]
family = "Linear"
T = 15
kernel = ["full", "separable", "gaussian"]
method = "sgd"
weights = { value = [1, 2] }

[[model]]
family = "StateNet"
rnn_type = ["GRU", "LSTM"]
hidden_size = 8
"""


def test_grid_expansion_from_toml(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(TOML)
    spec = SweepSpec.from_toml(p)
    trials = spec.trials()
    assert len(trials) == (3 + 2) * 2 * 3
    first = trials[0]
    assert first.spec == {"family": "Linear", "T": 15, "kernel": "full", "hyper": {"weights": [1, 2]}}
    assert first.request == {"epochs": 3, "patience": 2, "method": "sgd", "seed": 0}
    gru = [t for t in trials if t.spec.get("rnn_type") == "GRU"]
    assert len(gru) == 6 and gru[0].spec["hyper"] == {"hidden_size": 8}
    assert sorted({t.seed for t in trials}) == [0, 1, 2]
    assert {t.data for t in trials} == {"demo", "demo:1"}
    keys = {t.key(dataset_hash(t.data)) for t in trials}
    assert len(keys) == len(trials)  # every trial has its own identity


def test_trial_key_ignores_device_but_not_seed_or_data():
    spec = SweepSpec.from_dict({"data": "demo", "seeds": [0, 1], "model": [{"family": "Linear"}]})
    a, b = spec.trials()
    assert a.key("h") != b.key("h")
    assert a.key("h") != a.key("other-data")
    a2 = type(a)(a.data, a.spec, {**a.request, "device": "cuda"})
    assert a2.key("h") == a.key("h")


@pytest.mark.parametrize("raw, match", [
    ({"seeds": [0], "model": [{"family": "Linear"}]}, "'data'"),
    ({"data": "demo", "model": []}, r"\[\[model\]\]"),
    ({"data": "demo", "model": [{"T": 3}]}, "no 'family'"),
    ({"data": "demo", "seeds": ["a"], "model": [{"family": "Linear"}]}, "seeds"),
    ({"data": "demo", "model": [{"family": "Linear"}], "fit": {"epochz": 3}}, "epochz"),
    ({"data": "demo", "model": [{"family": "Linear"}], "colour": 1}, "colour"),
])
def test_invalid_sweeps_are_refused_with_the_reason(raw, match):
    with pytest.raises(SweepError, match=match):
        SweepSpec.from_dict(raw, source="x.toml")


def test_bad_toml_names_the_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("data = [\n")
    with pytest.raises(SweepError, match="bad.toml.*TOML"):
        SweepSpec.from_toml(p)
    with pytest.raises(SweepError, match="no such sweep file"):
        SweepSpec.from_toml(tmp_path / "missing.toml")


def test_dataset_hash_follows_content_not_location(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    (a / "spike1").write_text("1 2 3\n")
    (a / ".cache").mkdir()
    (a / ".cache" / "x").write_text("ignored")
    h1 = dataset_hash(str(a))
    b = tmp_path / "b"
    a.rename(b)
    assert dataset_hash(str(b)) == h1
    (b / "spike1").write_text("1 2 4\n")
    assert dataset_hash(str(b)) != h1
    with pytest.raises(FileNotFoundError):
        dataset_hash(str(tmp_path / "nope"))
