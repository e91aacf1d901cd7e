"""Ctrl-C or SIGTERM while the grader forks waits for the fork, then interrupts as usual."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from mlcasebook.grading.sandbox import signals_held


class Interrupted(Exception):
    pass


@pytest.fixture
def raising_handler():
    def handler(signum, frame):
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGINT, handler)
    yield
    signal.signal(signal.SIGINT, previous)


class Sender(threading.Thread):
    """A thread started before the fork, so it does not block the signal (pyzmq's or a background import's, in a
    grader): the kernel delivers the signal there, and Python runs the handler in the main thread at its next
    step, inside the fork's at-fork callbacks in the real case."""

    def __init__(self, sig):
        super().__init__()
        self.sig, self.go = sig, threading.Event()
        self.start()

    def run(self):
        self.go.wait(10)
        os.kill(os.getpid(), self.sig)

    def send(self):
        self.go.set()
        self.join()


def test_a_signal_that_lands_during_a_fork_is_raised_after_it(raising_handler):
    steps = []
    sender = Sender(signal.SIGINT)
    with pytest.raises(Interrupted):
        with signals_held():
            sender.send()
            for i in range(10_000):  # many steps at which Python would run the handler
                steps.append(i)
            steps.append("fork done")
    assert steps[-1] == "fork done"
    assert signal.getsignal(signal.SIGINT) is not None and signal.getsignal(signal.SIGINT).__name__ == "handler"


def test_without_a_signal_nothing_is_raised(raising_handler):
    with signals_held():
        pass
    assert signal.getsignal(signal.SIGINT).__name__ == "handler"
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_outside_the_main_thread_it_changes_nothing():
    seen = []

    def worker():
        with signals_held():
            seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert signal.SIGINT not in seen[0]
