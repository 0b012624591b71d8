"""The Fitter on tiny causal models and synthetic LN data (fast, 1 thread)."""

import math
import threading
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from strfviewer.fit.fitter import Fitter, set_random_seed


@dataclass
class Stim:
    name: str
    spec: np.ndarray
    responses: np.ndarray


class TinyLinear(nn.Module):
    """Causal linear STRF: (B, 1, F, T) -> (B, N, 1, T)."""

    def __init__(self, F=6, N=2, T=4):
        super().__init__()
        self.T = T
        self.conv = nn.Conv2d(1, N, kernel_size=(F, T))
        self.calls = 0

    def forward(self, x):
        self.calls += int(self.training)  # optimisation steps (evaluation runs in eval mode)
        return self.conv(nn.functional.pad(x, (self.T - 1, 0)))  # (B, N, 1, T)


def _data(n_stim=12, F=6, N=2, T=4, R=4, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(N, F, T))
    stims = []
    for i in range(n_stim):
        L = int(rng.integers(60, 120))
        spec = rng.normal(size=(1, F, L)).astype(np.float32)
        padded = np.pad(spec[0], ((0, 0), (T - 1, 0)))
        drive = np.stack([[np.sum(w[n] * padded[:, t:t + T]) for t in range(L)] for n in range(N)])
        rate = np.log1p(np.exp(drive))
        stims.append(Stim(f"s{i}", spec, rng.poisson(rate[:, None, :], size=(N, R, L)).astype(np.float32)))
    return stims[:8], stims[8:10], stims[10:]


def _fitter(model, train, val, **kw):
    kw.setdefault("max_epochs", 5)
    kw.setdefault("batch_size", 4)
    kw.setdefault("lr", 0.02)
    kw.setdefault("num_threads", 1)
    return Fitter(model, train, val, **kw)


def test_fit_improves_and_keeps_best_weights():
    train, val, test = _data()
    set_random_seed(0)
    model = TinyLinear()
    f = _fitter(model, train, val, max_epochs=15, patience=None)
    before = f.evaluate(test).metrics.mean_cc_norm
    hist = f.fit()
    assert hist.n_epochs == 15 and hist.stopped == "max_epochs"
    after = f.evaluate(test)
    assert after.metrics.mean_cc_norm > max(before, 0.5)
    scores = hist.series("val_cc_norm")
    assert hist.best_epoch == int(np.nanargmax(scores)) + 1
    # the model holds the best epoch's weights: its val score is the best one recorded
    assert f.evaluate(val).metrics.mean_cc_norm == pytest.approx(max(scores), abs=1e-6)
    assert set(after.predictions) == {s.name for s in test}
    assert after.predictions["s10"].shape == (2, test[0].spec.shape[-1])


def test_early_stopping_after_patience():
    train, val, _ = _data(seed=1)
    f = _fitter(TinyLinear(), train, val, max_epochs=200, patience=2, lr=0.05)
    hist = f.fit()
    assert hist.stopped == "early_stopping"
    assert hist.n_epochs == hist.best_epoch + 2
    assert "stopped early" in hist.message


def _scripted_validation(fitter, scores):
    """Make ``fitter`` see the validation cc_norm ``scores`` (starting weights first, then each epoch)."""
    from strfviewer.fit.fitter import Evaluation
    from strfviewer.fit.metrics import NeuronMetrics

    seen = iter(scores)

    def evaluate(batches, ceiling, stimuli):
        value = next(seen)
        metrics = NeuronMetrics(cc=np.array([value]), cc_max=np.array([1.0]), cc_norm=np.array([value]))
        return Evaluation(loss=1.0 - value, metrics=metrics, predictions={})

    fitter._evaluate = evaluate


def test_a_better_start_does_not_stop_a_climbing_fit():
    """Patience counts epochs without progress of training, not epochs below the starting weights: a warm start
    that scores above the first epochs of a steadily improving fit does not end it (DNet on the STRFlab cell)."""
    train, val, _ = _data()
    climb = [0.40] + [0.28 + 0.01 * k for k in range(20)] + [0.47] * 6     # start, a 20-epoch climb past it, a plateau
    f = _fitter(TinyLinear(), train, val, max_epochs=len(climb) - 1, patience=3)
    _scripted_validation(f, climb)
    hist = f.fit()
    assert hist.stopped == "early_stopping" and hist.n_epochs == 23        # the plateau (epochs 21-23) ends it
    assert hist.best_epoch == 20                                          # 0.47: the climb's top beat the start


def test_the_start_is_kept_when_training_never_beats_it():
    train, val, _ = _data()
    f = _fitter(TinyLinear(), train, val, max_epochs=30, patience=3)
    _scripted_validation(f, [0.9] + [0.5, 0.6, 0.6, 0.6, 0.6] + [0.0] * 30)
    hist = f.fit()
    assert hist.stopped == "early_stopping" and hist.n_epochs == 5 and hist.best_epoch == 0


def test_cancel_is_honoured_within_one_step():
    train, val, _ = _data()
    model = TinyLinear()
    events = []

    def progress(ev):
        events.append(ev)
        if ev.kind == "step" and ev.step == 1:
            f.cancel()

    f = _fitter(model, train, val, batch_size=1, max_epochs=50, progress=progress, progress_interval_s=0.0)
    hist = f.fit()
    assert hist.stopped == "cancelled"
    assert model.calls == 1  # one training step, no further one
    assert events[-1].kind == "done" and "cancelled" in events[-1].message


def test_cancel_event_from_another_thread():
    train, val, _ = _data()
    ev = threading.Event()
    ev.set()
    hist = _fitter(TinyLinear(), train, val, cancel_event=ev).fit()
    assert hist.stopped == "cancelled" and hist.n_epochs == 0 and "initial weights" in hist.message


class Exploding(TinyLinear):
    """Returns NaN once ``boom`` is set."""

    boom = False

    def forward(self, x):
        y = super().forward(x)
        return y * float("nan") if self.boom else y


def test_non_finite_loss_stops_with_message_and_best_weights():
    train, val, _ = _data()
    model = Exploding()

    def progress(ev):
        if ev.kind == "epoch" and ev.epoch == 3:
            model.boom = True

    f = _fitter(model, train, val, max_epochs=10, progress=progress)
    hist = f.fit()
    assert hist.stopped == "non_finite_loss"
    assert "nan" in hist.message.lower() and "epoch 4" in hist.message
    assert hist.n_epochs == 3
    model.boom = False
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert f.evaluate(val).metrics.mean_cc_norm == pytest.approx(hist.best_score, abs=1e-6)


def test_same_seed_same_fit_on_cpu():
    train, val, _ = _data()

    def run():
        set_random_seed(3)
        m = TinyLinear()
        _fitter(m, train, val, max_epochs=3, seed=3).fit()
        return torch.cat([p.detach().flatten() for p in m.parameters()])

    assert torch.equal(run(), run())


def test_progress_events_eta_and_threads():
    train, val, _ = _data()
    events = []
    threads_seen = []

    def progress(ev):
        events.append(ev)
        threads_seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    f = _fitter(TinyLinear(), train, val, batch_size=1, max_epochs=3, patience=None, progress=progress,
                progress_interval_s=0.0, num_threads=2)
    f.fit()
    kinds = [e.kind for e in events]
    assert kinds.count("epoch") == 1 + 3 and kinds[-1] == "done" and kinds.count("step") >= 3 * 6
    start, *ep = [e for e in events if e.kind == "epoch"]
    # epoch 0: the starting weights' score, which the fit keeps unless an epoch beats it
    assert start.epoch == 0 and start.val_cc_norm is not None and start.best_epoch == 0 and start.eta_s is None
    assert [e.epoch for e in ep] == [1, 2, 3]
    assert all(e.val_cc_norm is not None and e.eta_s >= 0 for e in ep)
    assert ep[-1].eta_s == 0 and ep[0].eta_s > 0
    assert all(e.max_epochs == 3 for e in events)
    assert set(threads_seen) == {2} and torch.get_num_threads() == before


def test_first_event_comes_before_the_starting_weights_are_scored():
    train, val, _ = _data()
    events = []
    f = _fitter(TinyLinear(), train, val, max_epochs=1, progress=events.append)
    f.fit()
    first = events[0]
    assert (first.kind, first.epoch, first.step) == ("step", 1, 0)
    assert "starting weights" in first.message and math.isnan(first.train_loss)


def test_no_validation_set_monitors_train_loss():
    train, _, _ = _data()
    hist = _fitter(TinyLinear(), train, None, max_epochs=3).fit()
    assert hist.monitor == "train_loss" and hist.n_epochs == 3
    assert math.isnan(hist.epochs[0].val_cc_norm)


def test_masked_batchnorm_active_during_fit_and_chunks():
    class BNModel(TinyLinear):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(2)

        def forward(self, x):
            return self.bn(super().forward(x)[:, :, 0]).unsqueeze(2)

    train, val, _ = _data()
    m = BNModel()
    hist = _fitter(m, train, val, max_epochs=2, chunk_frames=32, chunk_warmup=3).fit()
    assert hist.n_epochs == 2 and "forward" not in m.bn.__dict__
    with pytest.raises(ValueError, match="monitor"):
        Fitter(m, train, val, monitor="accuracy")
    with pytest.raises(ValueError, match="no training"):
        Fitter(m, [], val)


def test_starting_weights_are_kept_when_no_epoch_beats_them():
    train, val, _ = _data()
    model = TinyLinear()
    _fitter(model, train, val, max_epochs=20, patience=None).fit()  # a good fit to start from
    start = {k: v.clone() for k, v in model.state_dict().items()}
    hist = _fitter(model, train, val, max_epochs=3, lr=5.0, patience=None).fit()  # wild steps: worse
    assert hist.initial is not None and hist.best_epoch == 0
    assert all(torch.equal(start[k], v) for k, v in model.state_dict().items())
    assert "initial weights" in hist.message
    assert hist.to_dict()["initial"]["epoch"] == 0
