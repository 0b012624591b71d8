"""QA: prefilters built by the factory get a kernel measured in frames of the data's frame step.

deepSTRF's own rule (kept by ``make_prefiltering`` for checkpoint compatibility) counts the slowest time
constant's milliseconds as frames, which at 5 ms frames makes a kernel 5x longer than the three time constants
it means to cover. Models that strfviewer builds itself must span about three time constants of real time.
"""

import pytest

from strfviewer.models.factory import ModelSpec, build_model
from strfviewer.models.prefilters import default_kernel_size, make_prefiltering
from strfviewer.models.scales import freq_to_tau

F, N = 8, 2


@pytest.mark.parametrize("kind", ["AdapTrans", "ICAdaptation"])
@pytest.mark.parametrize("dt", [1.0, 5.0, 10.0])
def test_factory_prefilter_spans_three_time_constants_in_frames(kind, dt):
    model = build_model(ModelSpec("Linear", T=5, prefilter=kind, prefilter_kwargs={"dt": dt}), F, N)
    tau_max_ms = float(freq_to_tau(500.0))  # slowest band: the lowest frequency (default min_freq)
    span_ms = (model.prefiltering.K - 1) * dt  # past frames the kernel reaches back, in ms
    assert span_ms == pytest.approx(3 * tau_max_ms, abs=dt)


def test_factory_prefilter_follows_min_freq():
    low = build_model(ModelSpec("Linear", T=5, prefilter="ICAdaptation", prefilter_kwargs={"dt": 5.0,
                                                                                          "min_freq": 250.0}), F, N)
    high = build_model(ModelSpec("Linear", T=5, prefilter="ICAdaptation", prefilter_kwargs={"dt": 5.0,
                                                                                           "min_freq": 2000.0}), F, N)
    assert low.prefiltering.K > high.prefiltering.K  # lower bands adapt more slowly: longer kernel


def test_factory_keeps_an_explicit_kernel_size_and_the_spec():
    spec = ModelSpec("Linear", T=5, prefilter="AdapTrans", prefilter_kwargs={"dt": 5.0, "kernel_size": 7})
    model = build_model(spec, F, N)
    assert model.prefiltering.K == 7
    plain = ModelSpec("Linear", T=5, prefilter="AdapTrans", prefilter_kwargs={"dt": 5.0})
    assert "kernel_size" not in build_model(plain, F, N).spec.prefilter_kwargs  # the spec is returned as given


def test_make_prefiltering_keeps_the_deepstrf_rule():
    # deepSTRF checkpoints and the parity tests rely on it: milliseconds counted as frames
    assert make_prefiltering("AdapTrans", F, dt=5.0).K == default_kernel_size(500.0)
    assert default_kernel_size(500.0) == int(round(3 * float(freq_to_tau(500.0)))) + 1
