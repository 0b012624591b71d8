"""GUI responsiveness during a fit: event-loop stalls of the GUI thread and the live-curve refresh rate.

Opens the main window offscreen on the demo data, starts a StateNet fit through the fitting feature (the same
path as Fit > New fit...), and runs a 5 ms heartbeat ``QTimer`` in the GUI thread for the duration of the fit.
A stall is how late a heartbeat tick arrives: ``interval between ticks - 5 ms`` (0 when on time). It also counts
how often the training panel redrew its curves with new points.

Before the fit, the same heartbeat runs for ``--baseline-s`` seconds with nothing to do: stalls there come from
the machine itself (other processes), not from the app. ``--repeat N`` measures N fits one after the other; the
first one is cold (first use of the model's kernels), the next ones warm.

Targets (issue 5): p99 stall < 30 ms, max stall < 100 ms, curves refreshed at least once per second.

    python benchmarks/gui_stall.py [--epochs 10] [--device cpu] [--rnn GRU] [--repeat 2] [--verbose]

Prints what it measured; exit status 0 unless a fit failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

HEARTBEAT_MS = 5


class Heartbeat:
    """A 5 ms ``QTimer`` in the GUI thread recording when each tick really arrived (ms)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.clock = QElapsedTimer()
        self.ticks = []
        self.timer = QTimer()
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.ticks.append(self.clock.nsecsElapsed() / 1e6)

    def start(self) -> None:
        self.ticks = []
        self.clock.start()
        self.timer.start()

    def stop(self) -> np.ndarray:
        """Stop; the stall of every interval, ms."""
        self.timer.stop()
        return np.maximum(np.diff(np.asarray(self.ticks)) - HEARTBEAT_MS, 0.0)


def run_until(app, condition, timeout_s: float = 600.0) -> None:
    """Run the real event loop until ``condition()`` holds (checked every 50 ms)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    check = QTimer()
    check.setInterval(50)
    deadline = time.monotonic() + timeout_s
    check.timeout.connect(lambda: loop.quit() if condition() or time.monotonic() > deadline else None)
    check.start()
    loop.exec()
    check.stop()


def stall_line(stalls: np.ndarray) -> str:
    return (f"p50 {np.percentile(stalls, 50):.1f}  p99 {np.percentile(stalls, 99):.1f}  max {stalls.max():.1f} ms "
            f"({stalls.size} ticks)")


def measure_fit(app, window, request, verbose: bool = False) -> dict:
    """Fit ``request`` through the fitting feature with the heartbeat running; returns the figures."""
    feature = window.fitting
    panel = feature.training_panel
    heartbeat = Heartbeat()
    panel.refresh_times.clear()
    heartbeat.start()
    fit_start = time.monotonic()
    feature.submit(request)
    run_until(app, lambda: not (feature.queue.busy or feature.queue.pending))
    fit_end = time.monotonic()
    stalls = heartbeat.stop()
    run = window.session.runs[-1]
    duration = fit_end - fit_start
    refreshes = [t for t in panel.refresh_times if fit_start <= t <= fit_end]
    gaps = np.diff([fit_start] + refreshes + [fit_end])
    out = dict(run=run, stalls=stalls, duration=duration, refreshes=len(refreshes), longest_gap=float(gaps.max()))
    if verbose:
        t_ticks = (np.asarray(heartbeat.ticks[1:]) / 1e3)
        for i in np.nonzero(stalls > 20)[0]:
            print(f"  stall {stalls[i]:6.1f} ms ending {t_ticks[i]:6.2f} s after the fit started "
                  f"(it took {duration:.2f} s)")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the StateNet fit (default 10)")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps (default cpu)")
    parser.add_argument("--rnn", default="GRU", help="StateNet rnn_type (default GRU)")
    parser.add_argument("--batch-size", type=int, default=4, help="stimuli per step (default 4)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="fits measured one after the other in the same window (the first one is cold)")
    parser.add_argument("--baseline-s", type=float, default=2.0,
                        help="seconds of heartbeat with no fit first: the machine's own noise (default 2)")
    parser.add_argument("--verbose", action="store_true", help="list every stall over 20 ms with its time")
    parser.add_argument("--isolation", choices=("process", "thread"), default="process",
                        help="where the fit runs: the app's fit process (default) or the worker thread")
    parser.add_argument("--cold", action="store_true",
                        help="do not start the fit process beforehand (the app starts it when the fit dialog "
                             "opens); the first fit then includes its start-up")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])

    import torch

    from strfviewer.data import load
    from strfviewer.fit.fitter import default_num_threads
    from strfviewer.fit.run import FitRequest
    from strfviewer.gui.main_window import MainWindow
    from strfviewer.models.factory import ModelSpec
    from strfviewer.session import Session

    t0 = time.perf_counter()
    dataset = load("demo")
    settings_dir = tempfile.mkdtemp(prefix="strfviewer-bench-")
    settings = QSettings(os.path.join(settings_dir, "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(session=Session(dataset), settings=settings)
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    print(f"opened the demo ({dataset.n_neurons} neurons, {len(dataset.stimuli)} stimuli) in "
          f"{time.perf_counter() - t0:.2f} s")
    print(f"machine: {os.cpu_count()} CPU cores, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"torch {torch.__version__}, {default_num_threads()} torch thread(s) in the fit worker")

    window.fitting.queue.isolation = args.isolation
    if args.isolation == "process" and not args.cold:  # as when the fit dialog opens
        from strfviewer.gui.fitting.fit_queue import fit_server

        t1 = time.perf_counter()
        ready = fit_server().wait_ready()
        print(f"fit process {'ready' if ready else 'NOT ready'} after {time.perf_counter() - t1:.1f} s")
    if args.baseline_s > 0:  # the same window, idle: what the machine alone costs the event loop
        heartbeat = Heartbeat()
        heartbeat.start()
        end = time.monotonic() + args.baseline_s
        run_until(app, lambda: time.monotonic() >= end)
        print(f"baseline, no fit ({args.baseline_s:g} s): stall {stall_line(heartbeat.stop())}")

    request = FitRequest(spec=ModelSpec("StateNet", rnn_type=args.rnn), method="sgd", epochs=args.epochs,
                         patience=args.epochs, batch_size=args.batch_size, seed=0, device=args.device)
    status_ok = True
    for i in range(max(1, args.repeat)):
        if i:  # let the views finish what the previous fit's result started (predictions, gradmaps) first
            run_until(app, lambda: not window.worker_pool.workers, timeout_s=60)
        m = measure_fit(app, window, request, verbose=args.verbose)
        run = m["run"]
        status_ok &= run.status in ("done", "cancelled")
        device = getattr(getattr(run.outcome, "device", None), "type", args.device)
        print(f"fit {i + 1} ({args.isolation}{', cold' if i == 0 and args.cold else ''}): StateNet({args.rnn}) on "
              f"{device}, "
              f"{args.epochs} epochs max, {m['duration']:.1f} s, status {run.status} ({run.message})")
        if m["stalls"].size == 0:
            print("  no heartbeat ticks recorded")
            status_ok = False
            continue
        print(f"  GUI stall: {stall_line(m['stalls'])}   (target p99 < 30, max < 100)")
        print(f"  curve refreshes: {m['refreshes']} in {m['duration']:.1f} s = "
              f"{m['refreshes'] / m['duration']:.2f} per s; longest gap {m['longest_gap']:.2f} s   "
              f"(target >= 1 per s)")
    window.worker_pool.shutdown(20000)
    window.close()
    return 0 if status_ok else 1


if __name__ == "__main__":
    sys.exit(main())
