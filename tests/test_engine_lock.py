"""The writer lock against real processes: held, named, waited for, and gone with its process."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading

import pytest

from harness.engine import lock as lock_module
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


SLOW = """
import fcntl, json, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)   # took the lock, has not yet said who it is
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
if sys.argv[3] == "name":
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": "h", "since": "t"}).encode(), 0)
    sys.stdin.read()
"""


def slow_holder(path, seconds: float, then: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", SLOW, str(path), str(seconds), then],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "locked\n"
    return process


def test_a_holder_caught_before_it_names_itself_is_still_named(tmp_path, monkeypatch):
    monkeypatch.setattr(lock_module, "HOLDER_GRACE", 60.0)  # a loaded machine may be slow to name it
    path = tmp_path / "x.lock"
    process = slow_holder(path, 0.3, "name")
    try:
        with pytest.raises(LockHeld, match=f"pid {process.pid} on host h"):
            Lock(path, what="the thing").acquire()
    finally:
        process.stdin.close()
        process.wait()


def test_a_holder_that_lets_go_before_naming_itself_leaves_the_lock_to_the_next(tmp_path, monkeypatch):
    monkeypatch.setattr(lock_module, "HOLDER_GRACE", 60.0)  # a loaded machine may be slow to let go
    path = tmp_path / "x.lock"
    process = slow_holder(path, 0.2, "exit")
    lock = Lock(path, what="the thing")
    lock.acquire()  # no LockHeld: the lock came free while we waited to learn who held it
    assert process.wait() == 0
    lock.release()


def test_a_holder_that_never_names_itself_is_reported_as_such(tmp_path, monkeypatch):
    monkeypatch.setattr(lock_module, "HOLDER_GRACE", 0.2)
    path = tmp_path / "x.lock"
    process = slow_holder(path, 30, "exit")
    try:
        with pytest.raises(LockHeld, match="has not said who it is yet"):
            Lock(path, what="the thing").acquire()
    finally:
        process.kill()
        process.wait()
