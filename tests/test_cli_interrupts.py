"""commands/interrupts.sigint_calls: the Ctrl-C handler shared by fit, dream and sweep."""

import os
import signal
import threading

from strfviewer.commands.interrupts import sigint_calls


def test_ctrl_c_calls_the_handler_inside_and_the_old_handler_comes_back():
    before = signal.getsignal(signal.SIGINT)
    seen = []
    with sigint_calls(lambda signum, frame: seen.append(signum)):
        os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is not before
    assert seen == [signal.SIGINT]
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_nothing_is_installed():
    before = signal.getsignal(signal.SIGINT)
    errors, inside = [], []

    def work():
        try:
            with sigint_calls(lambda signum, frame: None):
                inside.append(signal.getsignal(signal.SIGINT))
        except Exception as exc:  # signal.signal raises ValueError off the main thread
            errors.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert errors == [] and inside == [before]
