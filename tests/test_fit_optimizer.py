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
    assert learning_rate_for(FitRequest(spec=ModelSpec("StateNet", rnn_type="RNN"))) == 0.001
