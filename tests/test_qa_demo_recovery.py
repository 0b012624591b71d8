"""QA: on the built-in demo a ridge fit recovers every neuron's true STRF (the app's first screen shows them)."""

import numpy as np

from strfviewer.data.demo import make_demo
from strfviewer.fit.run import FitRequest, run_fit
from strfviewer.models.factory import ModelSpec


def test_ridge_recovers_every_true_strf():
    demo = make_demo()
    outcome = run_fit(demo.dataset, FitRequest(spec=ModelSpec("Linear", T=demo.true_strfs.shape[-1]),
                                               method="ridge", num_threads=1))
    fitted = outcome.model.readout.strf.STRF_weight().detach().numpy()[:, 0]  # (N, F, T)
    r = [np.corrcoef(fitted[n].ravel(), demo.true_strfs[n].ravel())[0, 1] for n in range(len(fitted))]
    assert min(r) >= 0.5, np.round(r, 2)  # each map is recognisably its neuron's STRF
