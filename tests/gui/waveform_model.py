"""A small waveform-native model for the GUI tests: Linear on a fixed CausalMel front-end (16 mel bands),
fitted by ridge on the demo's audio in well under a second."""

from __future__ import annotations


def fit_waveform_run(dataset, name: str = "Linear / CausalMel", n_mels: int = 16):
    """A done :class:`Run` whose model takes the stimuli's audio, with the fit's predictions and metrics."""
    from strfviewer.fit.run import FitRequest, run_fit
    from strfviewer.models.factory import ModelSpec
    from strfviewer.session import Run

    spec = ModelSpec("Linear", T=15, frontend="CausalMel", frontend_kwargs={"n_mels": n_mels})
    request = FitRequest(spec=spec, method="ridge", device="cpu")
    outcome = run_fit(dataset, request)
    return Run(name=name, spec=spec, request=request, model=outcome.model.eval(), outcome=outcome,
               status="done", message=outcome.message)
