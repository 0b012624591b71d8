"""The fits' AdamW: fused where supported, the same update as the unfused loop, a fallback otherwise."""

import torch

from strfviewer.fit.optimizer import adamw


def _steps(opt, params, n=5):
    for i in range(n):
        for p in params:
            p.grad = torch.sin(p.detach() * (i + 1))
        opt.step()


def test_fused_adamw_takes_the_same_steps_as_plain_adamw():
    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(7, 5)), torch.nn.Parameter(torch.randn(3))]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    fused = adamw(a, lr=1e-2, weight_decay=1e-4)
    plain = torch.optim.AdamW(b, lr=1e-2, weight_decay=1e-4)
    _steps(fused, a)
    _steps(plain, b)
    for p, q in zip(a, b):
        assert not torch.equal(p, torch.zeros_like(p))
        assert torch.allclose(p, q, atol=1e-6)


def test_parameter_groups_and_a_generator_are_accepted():
    m = torch.nn.Linear(3, 2)
    opt = adamw(m.parameters(), lr=1e-3, weight_decay=0.0)
    assert len(opt.param_groups[0]["params"]) == 2
    opt = adamw([{"params": [m.weight], "lr": 1e-2}, {"params": [m.bias], "weight_decay": 0.0}], lr=1e-3,
                weight_decay=1e-4)
    assert [g["lr"] for g in opt.param_groups] == [1e-2, 1e-3]
    assert [g["weight_decay"] for g in opt.param_groups] == [1e-4, 0.0]


def test_parameters_fusing_refuses_fall_back_to_plain_adamw():
    z = torch.nn.Parameter(torch.randn(4, dtype=torch.complex64))
    opt = adamw([z], lr=1e-2, weight_decay=0.0)
    z.grad = torch.ones_like(z)
    before = z.detach().clone()
    opt.step()
    assert not torch.equal(z.detach(), before)


def test_default_learning_rates_line_names_every_rate_and_matches_learning_rate_for():
    from strfviewer.fit.learning_rates import CORE_LR, FAMILY_LR, default_learning_rates
    from strfviewer.fit.run import FitRequest, learning_rate_for
    from strfviewer.models.factory import ModelSpec

    line = default_learning_rates()
    for core, rate in CORE_LR.items():
        assert f"StateNet {core}" in line
        assert learning_rate_for(FitRequest(spec=ModelSpec("StateNet", rnn_type=core))) == rate
    for family, rate in FAMILY_LR.items():
        assert family in line
        assert learning_rate_for(FitRequest(spec=ModelSpec(family))) == rate
    assert line.endswith("0.001 otherwise")
    assert learning_rate_for(FitRequest(spec=ModelSpec("StateNet", rnn_type="S4D"))) == 0.001


def test_step_budget_text_and_batch_follow_the_constants(monkeypatch):
    """The help texts' step budget is built from the constants the automatic batch uses, so changing one changes
    both (they were once typed by hand and could drift)."""
    from strfviewer.fit import step_budget
    from strfviewer.fit.run import FitRequest, batch_size_for
    from strfviewer.models.factory import ModelSpec, build_model

    assert step_budget.default_step_budget() == "about 32 steps per epoch (StateNet LSTM: 16)"
    monkeypatch.setattr(step_budget, "STEPS_PER_EPOCH", 8)
    monkeypatch.setitem(step_budget.CORE_STEPS_PER_EPOCH, "GRU", 4)
    assert step_budget.default_step_budget() == "about 8 steps per epoch (StateNet GRU: 4, StateNet LSTM: 16)"
    assert step_budget.steps_per_epoch(None) == 8 and step_budget.steps_per_epoch("GRU") == 4
    assert step_budget.steps_per_epoch("RNN") == 8

    class _Stimulus:  # an item whose spectrogram has 10 frames (not chunked: the Linear family is not recurrent)
        class spec:
            shape = (1, 34, 10)

    linear = build_model(ModelSpec("Linear", T=5), 34, 1)
    assert batch_size_for(linear, [_Stimulus()] * 17, FitRequest(spec=ModelSpec("Linear", T=5))) == 3


def test_loss_help_names_the_poisson_families_and_the_engine_uses_the_same_list():
    from strfviewer.fit import loss_choice, run

    assert run.POISSON_FAMILIES is loss_choice.POISSON_FAMILIES and run.LOSS_CHOICES is loss_choice.LOSS_CHOICES
    text = loss_choice.default_loss_text()
    assert all(family in text for family in loss_choice.POISSON_FAMILIES) and "recurrent" in text


def test_help_modules_import_without_torch():
    import subprocess
    import sys

    code = ("import sys; import strfviewer.fit.step_budget, strfviewer.fit.loss_choice, strfviewer.fit.learning_rates; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
