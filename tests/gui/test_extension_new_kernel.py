"""A kernel written in one file is usable everywhere, with no other file edited (issue #18).

This module is the whole of two new kernels: a rank-r STRF with an option (``rank``) and a warm start, and a
variant without a warm start. The fixture registers them (as a kernel module's ``@register`` would on import)
and removes them afterwards. The tests then use them from the CLI with their option, in the fit dialog (an
editor for the option), the model panel (a refit button), checkpoints (save and reopen) and ``run_fit`` (warm
start, or "cold start" said in the fit's message). Copy this file to test a new kernel.
"""

from __future__ import annotations

import json
from typing import Optional

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

pytest.importorskip("pytestqt")

from strfviewer.models import registry  # noqa: E402
from strfviewer.models.capture import CapturesInitKwargs  # noqa: E402
from strfviewer.models.options import Option  # noqa: E402

from .conftest import make_dataset  # noqa: E402

NAME, COLD_NAME = "test_lowrank", "test_lowrank_cold"


class LowRankSTRF(CapturesInitKwargs, nn.Module):
    """Rank-r STRF: ``U (C_out, C_in, F, r) @ V (C_out, C_in, r, T)`` per (C_out, C_in), plus a bias ``(C_out,)``."""

    OPTIONS = (Option("rank", "int", 2, tooltip="Rank of each STRF (1 = separable).", minimum=1, maximum=8,
                      label="Rank (r)"),)

    def __init__(self, F: int, T: int, C_in: int, C_out: int, rank: int = 2, bias: bool = True):
        super().__init__()
        self.F, self.T, self.C_in, self.C_out, self.rank = F, T, C_in, C_out, rank
        self.U = nn.Parameter(torch.randn(C_out, C_in, F, rank) * 0.1)
        self.V = nn.Parameter(torch.randn(C_out, C_in, rank, T) * 0.1)
        self.bias = nn.Parameter(torch.zeros(C_out)) if bias else None

    def build_kernel(self, device=None) -> torch.Tensor:
        k = self.U @ self.V                                                       # (C_out, C_in, F, T)
        return k if device is None else k.to(device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.build_kernel(), self.bias)

    def init_from_strf(self, strf: torch.Tensor, bias: Optional[torch.Tensor]) -> str:
        u, s, vh = torch.linalg.svd(strf, full_matrices=False)
        root = s[..., : self.rank].sqrt()
        self.U.copy_(u[..., : self.rank] * root[..., None, :])
        self.V.copy_(vh[..., : self.rank, :] * root[..., None])
        if bias is not None and self.bias is not None:
            self.bias.copy_(bias)
        return f"ridge (rank-{self.rank} part)"


class ColdLowRankSTRF(LowRankSTRF):
    """The same kernel without a warm start."""

    init_from_strf = None


@pytest.fixture
def new_kernels():
    registry.register("kernel", NAME, description="rank-r STRF (test kernel)")(LowRankSTRF)
    registry.register("kernel", COLD_NAME, description="rank-r STRF without warm start (test kernel)")(
        ColdLowRankSTRF)
    yield
    registry.unregister("kernel", NAME)
    registry.unregister("kernel", COLD_NAME)


def test_cli_fits_it_with_its_option_and_the_checkpoint_reopens(new_kernels, tmp_path, capsys):
    from strfviewer.cli import main
    from strfviewer.io.checkpoints import load_checkpoint
    from strfviewer.models.factory import spec_of

    out = tmp_path / "lowrank"
    argv = ["fit", "demo", "--kernel", NAME, "--kernel-arg", "rank=3", "-T", "6", "--epochs", "1", "--device",
            "cpu", "--quiet", "--no-history", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    config = json.loads((out / "config.json").read_text())
    assert config["kernel"]["name"] == NAME and config["kernel"]["kwargs"]["rank"] == 3
    model, meta = load_checkpoint(out)
    kernel = model.readout.strf.kernel
    assert isinstance(kernel, LowRankSTRF) and kernel.U.shape[-1] == 3
    assert meta["spec"]["kernel_kwargs"] == {"rank": 3}
    reopened = spec_of(model)  # the spec a reopened model gets from its constructor arguments alone
    assert (reopened.kernel, reopened.kernel_kwargs) == (NAME, {"rank": 3})

    bad = main(argv[:4] + ["--kernel-arg", "rank=0"] + argv[6:])
    err = capsys.readouterr().err.strip()
    assert bad != 0 and len(err.splitlines()) == 1
    assert f"kernel '{NAME}': rank must be an integer from 1 to 8, got 0" in err


def test_run_fit_warm_starts_it_or_says_it_starts_cold(new_kernels):
    from strfviewer.fit.ridge import fit_ridge_details
    from strfviewer.fit.run import FitRequest, run_fit
    from strfviewer.models.factory import ModelSpec

    data = make_dataset()
    warm = run_fit(data, FitRequest(spec=ModelSpec("Linear", kernel=NAME, kernel_kwargs={"rank": 1}, T=4),
                                    epochs=0, device="cpu"))
    assert warm.details["warm_start"] == "ridge (rank-1 part)"
    # with no SGD epoch the kernel is the warm start: the rank-1 part of the ridge STRFs
    ridge = fit_ridge_details(data, 4).weights                                     # (N, 1, F, T)
    u, s, vh = np.linalg.svd(ridge, full_matrices=False)
    rank1 = s[..., :1, None] * u[..., :, :1] @ vh[..., :1, :]
    got = warm.model.readout.strf.kernel.build_kernel().detach().numpy()
    np.testing.assert_allclose(got, rank1, rtol=1e-3, atol=1e-5)

    cold = run_fit(data, FitRequest(spec=ModelSpec("Linear", kernel=COLD_NAME, T=4), epochs=1, device="cpu"))
    said = f"cold start: kernel {COLD_NAME} has no warm start"
    assert cold.details["warm_start"] == said and said in cold.message


def test_fit_dialog_offers_it_with_an_editor_for_its_option(new_kernels, qtbot, settings):
    from strfviewer.gui.fitting.fit_dialog import FitDialog

    dialog = FitDialog(dataset=make_dataset(), settings=settings)
    qtbot.addWidget(dialog)
    index = dialog.kernel_box.findData(NAME)
    assert index >= 0, "a registered kernel is offered"
    assert f"{NAME}: rank-r STRF (test kernel) (options: rank)" in dialog.kernel_box.toolTip()
    dialog.kernel_box.setCurrentIndex(index)
    editor = dialog._kernel_editors["rank"]
    label = dialog.model_form.labelForField(editor)
    assert label.text() == "Rank (r)" and "Rank of each STRF" in editor.toolTip()
    assert (editor.editor.minimum(), editor.editor.maximum(), editor.value()) == (1, 8, 2)
    editor.set_value(4)
    assert dialog.model_spec().kernel_kwargs == {"rank": 4} and dialog.reasons == []


def test_model_panel_describes_it_and_offers_it_as_a_refit(new_kernels, qtbot):
    import dataclasses

    from strfviewer.gui.fitting.model_panel import ModelPanel
    from strfviewer.models.factory import ModelSpec, build_model
    from strfviewer.session import Run, Session

    session = Session()
    spec = ModelSpec("Linear", kernel=NAME, kernel_kwargs={"rank": 2}, T=5)
    session.add_run(Run(name="lowrank", spec=spec, model=build_model(spec, 8, 2)))
    panel = ModelPanel(session)
    qtbot.addWidget(panel)
    assert NAME in panel.kernel_buttons and not panel.kernel_buttons[NAME].isEnabled()  # the current one
    summary = panel.slots_table.item(3, 3).text()
    assert "LowRankSTRF" in summary
    with qtbot.waitSignal(panel.refit_requested, timeout=1000) as blocker:
        panel.kernel_buttons["full"].click()
    assert blocker.args[0].spec == dataclasses.replace(spec, kernel="full", kernel_kwargs={})
