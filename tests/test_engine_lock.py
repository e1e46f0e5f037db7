"""The writer lock against real processes: held, named, waited for, and gone with its process."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading

import pytest

from harness.engine.lock import Lock, LockHeld

HOLD = """
import sys
from harness.engine.lock import Lock
lock = Lock(sys.argv[1], what="the thing")
lock.acquire()
print("held", flush=True)
sys.stdin.read()   # until the test closes our stdin
lock.release()
"""


def holder(path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "held\n"
    return process


def test_a_held_lock_names_its_holder_and_dies_with_it(tmp_path):
    path = tmp_path / "x.lock"
    process = holder(path)
    with pytest.raises(LockHeld) as caught:
        Lock(path, what="the thing").acquire()
    message = str(caught.value)
    assert str(path) in message and "the thing" in message
    assert f"pid {process.pid} on host {socket.gethostname()}" in message and "--wait" in message
    process.send_signal(signal.SIGKILL)
    process.wait()
    lock = Lock(path, what="the thing")
    lock.acquire()  # a killed holder leaves the file, but no lock
    lock.release()
    assert not path.exists()


def test_a_waiting_writer_gets_the_lock_when_the_holder_lets_go(tmp_path):
    path = tmp_path / "x.lock"
    process = holder(path)
    lock = Lock(path, what="the thing")
    got, waiting = threading.Event(), threading.Event()

    class Seen(logging.Handler):
        def emit(self, record):
            if "waiting for it" in record.getMessage() and f"pid {process.pid}" in record.getMessage():
                waiting.set()

    seen = Seen()
    logging.getLogger("harness.engine.lock").addHandler(seen)

    def wait_for_it():
        lock.acquire(wait=True)
        got.set()

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    try:
        assert waiting.wait(30)  # the waiter found the lock held, named the holder, and waits
    finally:
        logging.getLogger("harness.engine.lock").removeHandler(seen)
    assert not got.is_set()
    process.stdin.close()  # the holder releases, removing the file the waiter is blocked on
    assert process.wait(timeout=30) == 0
    waiter.join(timeout=30)
    assert got.is_set()
    with pytest.raises(LockHeld):  # what the waiter holds is the lock at the path, not a removed file
        Lock(path, what="the thing").acquire()
    lock.release()


def test_one_process_two_locks_on_one_path_exclude_each_other(tmp_path):
    first = Lock(tmp_path / "x.lock", what="x")
    first.acquire()
    with pytest.raises(LockHeld, match=r"pid \d+"):
        Lock(tmp_path / "x.lock", what="x").acquire()
    first.release()
