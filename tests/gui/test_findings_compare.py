"""Compare runs view: paired statistics of the current and compare runs, clickable scatter, an LN model's output
nonlinearity over the recorded response."""

import numpy as np
import torch

from strfviewer.analysis.compare import compare_runs
from strfviewer.gui.views.axes import placeholder_text
from strfviewer.session import Run

from .conftest import make_run
from .test_findings_gradmap import _show_dock
from .test_findings_table import findings_window


def ln_run(dataset, name="LN", seed=2):
    """A LinearNonlinear run (random weights) with its predictions and metrics."""
    from strfviewer.gui.window.model_io import split_metrics
    from strfviewer.models.factory import ModelSpec, build_model

    torch.manual_seed(seed)
    spec = ModelSpec(family="LinearNonlinear", T=5)
    model = build_model(spec, dataset.n_freqs, dataset.n_neurons).eval()
    with torch.no_grad():
        preds = {s.name: model(torch.from_numpy(s.spec[None])).numpy()[0, :, 0, :] for s in dataset.stimuli}
    return Run(name=name, spec=spec, model=model, predictions=preds, metrics=split_metrics(dataset, preds))


def test_compare_view_scores_both_runs_and_selects_a_clicked_neuron(qtbot, settings):
    win = findings_window(qtbot, settings, lambda d: make_run(d, name="A run"))
    s, ds = win.session, win.session.dataset
    _show_dock(qtbot, win, "compare")
    view = win.views["compare"]
    win.redraw_now()
    assert view.comparison is None and "compare run" in view.note
    # the empty scatter and histogram say so (they showed bare 0..1 axes)
    assert placeholder_text(view.scatter_plot) and placeholder_text(view.hist_plot)
    other = s.add_run(make_run(ds, name="B run", seed=5), make_current=False)
    s.set_compare_run(other)
    qtbot.waitUntil(lambda: view.comparison is not None, timeout=15000)
    test = ds.stimuli_in("test")
    expected = compare_runs([t.responses for t in test], [s.current_run.predictions[t.name] for t in test],
                            [other.predictions[t.name] for t in test])
    np.testing.assert_allclose(view.comparison.cc_norm_a, expected.cc_norm_a)
    assert placeholder_text(view.scatter_plot) is None and placeholder_text(view.hist_plot) is None
    np.testing.assert_allclose(view.comparison.difference, expected.difference)
    assert view.comparison.p_wilcoxon == expected.p_wilcoxon
    assert "Wilcoxon" in view.stats.text and "A = A run" in view.title.text()
    # the scatter: one point per neuron with both scores, its data the neuron index; a click selects it
    points = view.points.points()
    assert len(points) == np.isfinite(expected.difference).sum()
    target = points[-1]
    view.points.sigClicked.emit(view.points, [target], None)
    assert s.neuron == int(target.data())
    win.redraw_now()
    x, y = view.selected.getData()
    assert (x[0], y[0]) == (expected.cc_norm_a[s.neuron], expected.cc_norm_b[s.neuron])
    header, rows = view.csv_table()
    assert header[:3] == ["neuron", "cc_norm_a", "cc_norm_b"] and len(rows) == ds.n_neurons
    win.close()


def test_output_nonlinearity_of_an_ln_run_passes_through_its_predictions(qtbot, settings):
    win = findings_window(qtbot, settings, ln_run)
    s, ds = win.session, win.session.dataset
    _show_dock(qtbot, win, "compare")
    view = win.views["compare"]
    qtbot.waitUntil(lambda: "output_nonlinearity" in s.current_run.cache, timeout=15000)
    s.select_neuron(2)
    win.redraw_now()
    drive, recorded = view.nl_points.getData()
    test = ds.stimuli_in("test")
    np.testing.assert_allclose(recorded, np.concatenate([t.psth()[2] for t in test]))
    # the curve is the activation: evaluated at each point's drive it gives the model's prediction there
    cx, cy = view.nl_curve.getData()
    predicted = np.concatenate([s.current_run.predictions[t.name][2] for t in test])
    np.testing.assert_allclose(np.interp(drive, cx, cy), predicted, rtol=1e-2, atol=1e-3)
    assert "output nonlinearity" in view.nl_plot.titleLabel.text
    win.close()


def test_a_linear_run_shows_prediction_against_recording(qtbot, settings):
    win = findings_window(qtbot, settings, lambda d: make_run(d))
    _show_dock(qtbot, win, "compare")
    view = win.views["compare"]
    win.redraw_now()
    pred, rec = view.nl_points.getData()
    test = win.session.dataset.stimuli_in("test")
    np.testing.assert_allclose(pred, np.concatenate([win.session.current_run.predictions[t.name][0] for t in test]))
    assert "no output nonlinearity" in view.nl_plot.titleLabel.text
    win.close()
