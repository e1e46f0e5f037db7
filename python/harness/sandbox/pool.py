"""The parent side: a pool of pre-warmed workers (or one fresh sandbox per sample at `strict`).

`Sandbox.run(entry, payload)` sends one request to an idle worker and waits for its reply, at
most the sample's wall-clock limit plus a grace period: a worker that does not answer in time is
killed with its whole sandbox (bubblewrap's pid namespace dies with it) and the run is reported
as an infrastructure failure (`status="error"`), never as a pass or a fail. A worker that cannot
start at all (a preload that does not import, bubblewrap refusing its command line) would fail
every sample the same way: that is raised once, as `SandboxSetupError`, from the run that
started it and from every later run. Thread-safe: run samples from as many threads as there are
workers.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from harness.sandbox.levels import IsolationLevel, SandboxUnavailable, bwrap_namespace_args, choose_level, detect
from harness.sandbox.limits import Limits
from harness.sandbox.protocol import write_json
from harness.sandbox.view import SandboxSetupError, View, mount_args, python_executable, view

WORKER_PATH = "/usr/local/bin:/usr/bin:/bin"
STARTUP_SECONDS = 120.0
"""How long a worker may take to start (bubblewrap + interpreter + preloads on a loaded machine)."""
GRACE_SECONDS = 60.0
"""Slack over a sample's wall limit before the parent gives up on the worker itself."""
_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER",
                 "CAP_KILL")
"""What the worker keeps inside bubblewrap: switching a sample to its uid, owning and cleaning
its directory, killing its processes. Everything else is dropped."""

_uid_lock = threading.Lock()
_uids_in_use: set[int] = set()


@dataclass
class RunResult:
    """What happened to one sample. `status` is one of `exited` (see `exit_code`), `signaled`
    (see `signal`: a segfault, SIGXCPU...), `timeout` (wall-clock deadline), `output_limit`, or
    `error`: the sandbox itself failed, so nothing can be concluded about the program."""

    status: str
    level: str
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    result: bytes = b""
    """Everything the sample wrote to the results channel (fd 3)."""
    wall_seconds: float = 0.0
    survivors_killed: int = 0
    """Processes of the sample still alive after its main process ended (daemons), killed."""
    error: str | None = None

    @property
    def infrastructure_failure(self) -> bool:
        return self.status == "error"

    @property
    def succeeded(self) -> bool:
        return self.status == "exited" and self.exit_code == 0


class WorkerDied(RuntimeError):
    pass


class _StartFailed(Exception):
    """The worker ended before it was ready: what it said, or the tail of its stderr."""


_spawn_requests: queue.Queue[tuple[Any, Future[Any]]] = queue.Queue()
_spawner: threading.Thread | None = None


def spawn(start: Any) -> subprocess.Popen[bytes]:
    """Start a worker from one long-lived thread. bubblewrap's --die-with-parent (like any
    PR_SET_PDEATHSIG) fires when the *thread* that forked it ends, so workers must not be
    started from short-lived threads such as a ThreadPoolExecutor's."""
    global _spawner
    with _uid_lock:
        if _spawner is None:
            _spawner = threading.Thread(target=_spawn_loop, name="sandbox-spawner", daemon=True)
            _spawner.start()
    done: Future[Any] = Future()
    _spawn_requests.put((start, done))
    return done.result()


def _spawn_loop() -> None:
    while True:
        start, done = _spawn_requests.get()
        try:
            done.set_result(start())
        except BaseException as exc:
            done.set_exception(exc)


class _Worker:
    """One worker process and the pipes to it."""

    def __init__(self, command: list[str], env: dict[str, str], log_dir: str) -> None:
        self.log = tempfile.TemporaryFile(dir=log_dir)  # noqa: SIM115 - lives as long as the worker
        self.proc = spawn(lambda: subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            env=env, start_new_session=True, close_fds=True, cwd="/",
        ))
        assert self.proc.stdout is not None and self.proc.stdin is not None  # both are pipes
        self.out = self.proc.stdout.fileno()
        self.inp = self.proc.stdin.fileno()
        self.pending = bytearray()
        self.ready = False

    def wait_ready(self) -> None:
        """Wait for the worker's hello (it has imported its preloads). Separate from starting
        it, so that several workers start at once."""
        if self.ready:
            return
        try:
            hello = self._read_json(time.monotonic() + STARTUP_SECONDS)
        except WorkerDied as exc:
            if self.proc.poll() is None:
                raise  # still starting after STARTUP_SECONDS: a loaded machine, not a setup fault
            raise _StartFailed(str(exc)) from None
        if not hello.get("ready"):
            raise _StartFailed(str(hello.get("error") or hello))
        self.ready = True

    def request(self, request: dict[str, Any], timeout: float) -> tuple[dict[str, Any], bytes]:
        deadline = time.monotonic() + timeout
        try:
            write_json(self.inp, request)
        except OSError as exc:
            raise WorkerDied(f"worker is gone: {exc}; {self.stderr_tail()}") from None
        reply = self._read_json(deadline)
        result = self._read_frame(deadline)
        return reply, result

    def _read_json(self, deadline: float) -> dict[str, Any]:
        import json

        return json.loads(self._read_frame(deadline))

    def _read_frame(self, deadline: float) -> bytes:
        header = self._read_exact(8, deadline)
        return self._read_exact(int.from_bytes(header, "big"), deadline)

    def _read_exact(self, n: int, deadline: float) -> bytes:
        # Reads take whatever the worker has written (often a whole reply and its result frame
        # at once) into a buffer: a few system calls per sample rather than two per frame part.
        while len(self.pending) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerDied(f"worker did not answer in time; {self.stderr_tail()}")
            ready, _, _ = select.select([self.out], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.out, max(n - len(self.pending), 1 << 16))
            if not chunk:
                raise WorkerDied(f"worker exited (status {self.proc.poll()}); {self.stderr_tail()}")
            self.pending += chunk
        data = bytes(self.pending[:n])
        del self.pending[:n]
        return data

    def stderr_tail(self) -> str:
        try:
            self.log.seek(0)
            text = self.log.read()[-2000:].decode(errors="replace").strip()
        except OSError:
            return "worker log unreadable"
        return f"worker stderr: {text}" if text else "worker wrote nothing to stderr"

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        self.log.close()


class Sandbox:
    """Runs trusted entry points (`"module:function"`) on untrusted payloads, one fresh process
    per sample, at the strongest isolation asked for; refuses to start below `minimum`.

        with Sandbox(preload=["harness.sandbox.scripts"]) as sandbox:
            print(sandbox.level)        # IsolationLevel.NAMESPACES
            run = sandbox.run("harness.sandbox.scripts:run_script", {"code": "print(1)"})

    The entry point is called in the child as `function(payload, results)`, where `results` is a
    binary file (fd 3) whose content comes back as `RunResult.result`; its module must be one of
    `preload` (or of `packages`).

    What the sandboxed code can import (see `harness.sandbox.view`): the standard library, a copy
    of the `preload` modules and of the first-party modules they import, and the distributions
    named in `packages` with their requirements (`packages=["pytest"]`). Raises
    `SandboxSetupError` when one of them cannot be found.
    """

    def __init__(
        self,
        level: str | IsolationLevel | None = None,
        *,
        minimum: str | IsolationLevel | None = None,
        workers: int | None = None,
        preload: Iterable[str] = (),
        packages: Iterable[str] = (),
        limits: Limits | None = None,
        tmp_bytes: int = 256 << 20,
    ) -> None:
        self.capabilities = detect()
        self.level, self.minimum = choose_level(level, minimum)
        self.limits = limits or Limits()
        self.preload = ["harness.sandbox.worker", *preload]
        self.packages = list(packages)
        self.view = view(self.preload, self.packages)
        self._broken: SandboxSetupError | None = None
        self.tmp_bytes = tmp_bytes
        self.size = workers or max(1, os.cpu_count() or 1)
        self._state = tempfile.mkdtemp(prefix="harness-sandbox-")
        os.chmod(self._state, 0o711)  # sample dirs of the `process` level live below it
        # Last in, first out: the worker that just answered (or that check() readied) is the
        # next one used, while the others may still be starting.
        self._idle: queue.LifoQueue[int] = queue.LifoQueue()
        self._workers: list[_Worker | None] = [None] * self.size
        self._uids = [allocate_uid() for _ in range(self.size)]
        for slot in range(self.size):
            self._idle.put(slot)
        self._closed = False

    # -- running -------------------------------------------------------------------------------

    def run(
        self,
        entry: str,
        payload: Any = None,
        *,
        files: dict[str, str] | None = None,
        limits: Limits | None = None,
        fork: bool = True,
    ) -> RunResult:
        """Run `entry(payload, results)` in a fresh sandboxed process; see `RunResult`.

        `fork=False` runs it inside a worker itself, without a fresh process, uid or resource
        limits (still in the worker's namespaces, under the deadline): only for trusted code that
        handles untrusted *data*, such as a judge replaying a test on a candidate's results."""
        if self._closed:
            raise RuntimeError("sandbox is closed")
        module = entry.partition(":")[0]
        if not self.view.provides(module):
            raise ValueError(f"entry point {entry!r}: module {module!r} is not among this "
                             "sandbox's preload modules or packages")
        if self._broken is not None:
            raise self._broken
        limits = limits or self.limits
        request = {"entry": entry, "payload": payload, "files": files or {},
                   "limits": limits.to_dict(), "fork": fork}
        slot = self._idle.get()
        try:
            return self._run_on(slot, request, limits)
        finally:
            self._idle.put(slot)

    def _run_on(self, slot: int, request: dict[str, Any], limits: Limits) -> RunResult:
        worker = None
        try:
            worker = self._workers[slot] or self._start(slot)
            self._workers[slot] = worker
            worker.wait_ready()
            reply, result = worker.request(request, limits.wall_seconds + GRACE_SECONDS)
        except _StartFailed as exc:
            raise self._cannot_start(slot, worker, exc) from None
        except (WorkerDied, OSError, ValueError) as exc:
            if worker is not None:
                worker.kill()
            self._workers[slot] = None
            return RunResult(status="error", level=self.level.label, error=str(exc))
        if self.level is IsolationLevel.STRICT:
            worker.kill()
            self._workers[slot] = None
        fields = {k: reply[k] for k in RunResult.__dataclass_fields__ if k in reply}
        return RunResult(**{**fields, "level": self.level.label, "result": result})

    def _cannot_start(self, slot: int, worker: _Worker | None, failure: _StartFailed) -> SandboxSetupError:
        """The error every run of this sandbox raises from now on: its workers cannot start."""
        if worker is not None:  # None: it failed before it existed
            worker.kill()
        self._workers[slot] = None
        packages = ", ".join(self.packages) or "none"
        self._broken = SandboxSetupError(
            f"sandbox workers cannot start ({self.level.label} level): {str(failure).strip()}\n"
            "Sandboxed code imports only the standard library, the packages declared for it "
            f"({packages}, with their requirements) and a copy of its trusted modules "
            f"({', '.join(sorted(self.view.staged))}): declare the distribution that provides a "
            "missing module in packages= and check that it is installed."
        )
        return self._broken

    def _start(self, slot: int) -> _Worker:
        uid = self._uids[slot] if self.level >= IsolationLevel.PROCESS else None
        worker_args = ["-S", "-P", "-m", "harness.sandbox.worker",
                       "--preload", ",".join(self.preload)]
        if uid is not None:
            worker_args += ["--uid", str(uid)]
        if self.level is IsolationLevel.STRICT:
            worker_args.append("--once")
        mounted = self.level >= IsolationLevel.NAMESPACES
        env = {"PATH": WORKER_PATH, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": self.view.python_path(mounted)}
        if mounted:
            command = [*bwrap_command(self.view, _CAPABILITIES, self.tmp_bytes),
                       python_executable(), *worker_args, "--tmp-root", "/tmp"]
        else:
            tmp_root = tempfile.mkdtemp(prefix=f"slot{slot}-", dir=self._state)
            os.chmod(tmp_root, 0o711)
            command = [python_executable(), *worker_args, "--tmp-root", tmp_root]
        return _Worker(command, env, self._state)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every missing worker now, without waiting for them to be ready: the first run
        on each waits. Returns at once when they are all running."""
        if self.level is IsolationLevel.STRICT:
            return  # a fresh worker per sample: nothing to start ahead
        slots = [self._idle.get() for _ in range(self.size)]
        try:
            for slot in slots:
                if self._workers[slot] is None:
                    self._workers[slot] = self._start(slot)
        finally:
            for slot in slots:
                self._idle.put(slot)

    def warm_up(self) -> None:
        """Start every worker now rather than on first use, and wait until they are ready."""
        self.start()
        slots = [self._idle.get() for _ in range(self.size)]
        try:
            for slot in slots:
                worker = self._workers[slot]
                if worker is None:
                    continue
                try:
                    worker.wait_ready()
                except _StartFailed as exc:
                    raise self._cannot_start(slot, worker, exc) from None
                except (WorkerDied, OSError, ValueError):
                    worker.kill()
                    self._workers[slot] = None
                    raise
        finally:
            for slot in slots:
                self._idle.put(slot)

    def check(self) -> None:
        """Start one worker now and wait until it is ready (it serves the next run): raises
        `SandboxSetupError` where the sandbox is set up, rather than at its first run, when its
        workers cannot start. A worker that is merely slow to start is left to the runs."""
        if self._broken is not None:
            raise self._broken
        slot = self._idle.get()
        try:
            worker = self._workers[slot] or self._start(slot)
            self._workers[slot] = worker
            worker.wait_ready()
        except _StartFailed as exc:
            raise self._cannot_start(slot, worker, exc) from None
        except (WorkerDied, OSError, ValueError):
            broken = self._workers[slot]
            if broken is not None:
                broken.kill()
                self._workers[slot] = None
        finally:
            self._idle.put(slot)

    def worker_pids(self) -> list[int]:
        """Host pids of the running workers (bubblewrap's, at the namespace levels)."""
        return [w.proc.pid for w in self._workers if w is not None and w.proc.poll() is None]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for slot, worker in enumerate(self._workers):
            if worker is not None:
                worker.kill()
                self._workers[slot] = None
        with _uid_lock:
            _uids_in_use.difference_update(self._uids)
        shutil.rmtree(self._state, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        return {"level": self.level.label, "minimum": self.minimum.label, "workers": self.size,
                "packages": self.packages, "limits": self.limits.to_dict(),
                "capabilities": self.capabilities.to_dict()}


def bwrap_command(
    sandbox_view: View, capabilities: Iterable[str], tmp_bytes: int,
    binds: Iterable[tuple[str, str]] = (),
) -> list[str]:
    """The bubblewrap command line (without the program to run) of a sandboxed process: our
    namespaces, a read-only root holding only `sandbox_view` (the interpreter, the standard
    library, the system libraries, staged modules, declared packages) and `binds` (host path,
    sandbox path: read-only files such as a CSV to load), a private `tmp_bytes`-capped /tmp,
    /proc and /dev, working directory /, every capability dropped but `capabilities`."""
    bwrap = detect().bwrap
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: the namespaces level needs it")
    command = [bwrap, *bwrap_namespace_args(), *sandbox_view.bwrap_args(),
               "--size", str(tmp_bytes), "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"]
    # After /tmp: a file under the host's /tmp is bound into the private one.
    command += mount_args([("--ro-bind", host, inside) for host, inside in binds])
    command += ["--remount-ro", "/", "--chdir", "/", "--cap-drop", "ALL"]
    for cap in capabilities:
        command += ["--cap-add", cap]
    return command


def allocate_uid() -> int:
    """A uid no other account uses: samples of different workers can never signal each other.
    Give it back with `release_uid`."""
    with _uid_lock:
        while True:
            uid = 1_000_000 + random.randrange(1 << 24)
            if uid not in _uids_in_use:
                _uids_in_use.add(uid)
                return uid


def release_uid(uid: int) -> None:
    with _uid_lock:
        _uids_in_use.discard(uid)
