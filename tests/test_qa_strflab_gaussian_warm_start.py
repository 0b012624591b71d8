"""QA on the real STRFlab cell: the Gaussian-mixture Linear model, warm-started from the ridge STRF, reaches the
test cc_norm issue #13 asks of it (>= 0.50; the ridge full kernel gets about 0.56 there), and says so in its
details. Skipped without the shared recording."""

from strfviewer.data import load
from strfviewer.fit.run import FitRequest, run_fit
from strfviewer.models.factory import ModelSpec


def test_gaussian_mixture_linear_reaches_half_the_ceiling(strflab_cell):
    data = load(strflab_cell)
    spec = ModelSpec("Linear", kernel="gaussian", kernel_kwargs={"num_gaussians": 3}, T=15)
    out = run_fit(data, FitRequest(spec=spec, device="cpu", num_threads=1))
    assert out.details["warm_start"].startswith("ridge STRF fitted by 3 Gaussian(s)")
    assert out.metrics["test"].mean_cc_norm >= 0.50, out.message


def test_the_default_gaussian_count_reaches_half_the_ceiling(strflab_cell):
    """num_gaussians="auto" (the default) chooses K from the ridge STRF: 1 Gaussian reached only 0.28 here."""
    out = run_fit(load(strflab_cell), FitRequest(spec=ModelSpec("Linear", kernel="gaussian", T=15), device="cpu",
                                                 num_threads=1))
    K = out.details["kernel_chosen"]["num_gaussians"]
    assert K >= 2 and out.model.spec.kernel_kwargs == {"num_gaussians": K}
    assert out.metrics["test"].mean_cc_norm >= 0.50, out.message
