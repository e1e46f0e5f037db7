"""The parent side: a pool of pre-warmed workers (or one fresh sandbox per sample at `strict`).

`Sandbox.run(entry, payload)` sends one request to an idle worker and waits for its reply, at
most the sample's wall-clock limit plus a grace period: a worker that does not answer in time is
killed with its whole sandbox (bubblewrap's pid namespace dies with it) and the run is reported
as an infrastructure failure (`status="error"`), never as a pass or a fail. Thread-safe: run
samples from as many threads as there are workers.
"""

from __future__ import annotations

import os
import queue
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from harness.sandbox.levels import (
    IsolationLevel,
    SandboxUnavailable,
    bwrap_namespace_args,
    choose_level,
    detect,
)
from harness.sandbox.limits import Limits
from harness.sandbox.protocol import write_json

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
        self.log = tempfile.TemporaryFile(dir=log_dir)
        self.proc = spawn(lambda: subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            env=env, start_new_session=True, close_fds=True, cwd="/",
        ))
        self.out = self.proc.stdout.fileno()
        self.inp = self.proc.stdin.fileno()
        self.pending = bytearray()
        self.ready = False

    def wait_ready(self) -> None:
        """Wait for the worker's hello (it has imported its preloads). Separate from starting
        it, so that several workers start at once."""
        if self.ready:
            return
        hello = self._read_json(time.monotonic() + STARTUP_SECONDS)
        if not hello.get("ready"):
            raise WorkerDied(f"worker did not start: {hello!r}")
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
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.log.close()


class Sandbox:
    """Runs trusted entry points (`"module:function"`) on untrusted payloads, one fresh process
    per sample, at the strongest isolation asked for; refuses to start below `minimum`.

        with Sandbox(preload=["harness_code.runner"]) as sandbox:
            print(sandbox.level)        # IsolationLevel.NAMESPACES
            run = sandbox.run("harness_code.runner:run_script", {"code": "print(1)"})

    The entry point is called in the child as `function(payload, results)`, where `results` is a
    binary file (fd 3) whose content comes back as `RunResult.result`.
    """

    def __init__(
        self,
        level: str | IsolationLevel | None = None,
        *,
        minimum: str | IsolationLevel | None = None,
        workers: int | None = None,
        preload: Iterable[str] = (),
        limits: Limits | None = None,
        tmp_bytes: int = 256 << 20,
    ) -> None:
        self.capabilities = detect()
        self.level, self.minimum = choose_level(level, minimum)
        self.limits = limits or Limits()
        self.preload = ["harness.sandbox.worker", *preload]
        self.tmp_bytes = tmp_bytes
        self.size = workers or max(1, os.cpu_count() or 1)
        self._state = tempfile.mkdtemp(prefix="harness-sandbox-")
        os.chmod(self._state, 0o711)  # sample dirs of the `process` level live below it
        self._idle: queue.Queue[int] = queue.Queue()
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

    def _start(self, slot: int) -> _Worker:
        uid = self._uids[slot] if self.level >= IsolationLevel.PROCESS else None
        worker_args = ["-s", "-P", "-m", "harness.sandbox.worker",
                       "--preload", ",".join(self.preload), "--sys-path", _import_path()]
        if uid is not None:
            worker_args += ["--uid", str(uid)]
        if self.level is IsolationLevel.STRICT:
            worker_args.append("--once")
        env = {"PATH": WORKER_PATH, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        if self.level >= IsolationLevel.NAMESPACES:
            command = [*bwrap_command(_CAPABILITIES, self.tmp_bytes),
                       sys.executable, *worker_args, "--tmp-root", "/tmp"]
        else:
            tmp_root = tempfile.mkdtemp(prefix=f"slot{slot}-", dir=self._state)
            os.chmod(tmp_root, 0o711)
            command = [sys.executable, *worker_args, "--tmp-root", tmp_root]
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
                except (WorkerDied, OSError, ValueError):
                    worker.kill()
                    self._workers[slot] = None
                    raise
        finally:
            for slot in slots:
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
                "limits": self.limits.to_dict(), "capabilities": self.capabilities.to_dict()}


def _python_mounts() -> list[str]:
    """bubblewrap arguments that let the sample uid import Python when it is installed below a
    directory other users cannot enter (pyenv under /root): that directory is replaced by an
    empty tmpfs (hiding the rest of it, e.g. /root/.ssh) and only Python's own paths are bound
    back read-only. Paths under /tmp (a checkout or virtual environment there) are bound back
    the same way over the sandbox's private /tmp."""
    wanted = {sys.base_prefix, sys.prefix, sys.exec_prefix,
              os.path.dirname(os.path.realpath(sys.executable)), *_import_path().split(os.pathsep)}
    hidden: set[str] = set()
    binds: set[str] = set()
    for path in filter(None, wanted):
        path = os.path.realpath(path)
        if path.startswith("/tmp/"):
            binds.add(path)
            continue
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            ancestor = "/" + "/".join(parts[:depth])
            try:
                closed = not os.stat(ancestor).st_mode & 0o001
            except OSError:
                break
            if closed:
                hidden.add(ancestor)
                binds.add(path)
                break
    args: list[str] = []
    for directory in sorted(hidden):
        args += ["--tmpfs", directory]
    between = {
        os.path.dirname(path)[: len(top) + 1 + i]
        for path in binds for top in hidden | {"/tmp"} if path.startswith(top + "/")
        for i, ch in enumerate(os.path.dirname(path)[len(top) + 1 :] + "/") if ch == "/"
    }
    for directory in sorted(d for d in between if d not in hidden and d != "/tmp"):
        args += ["--perms", "0755", "--dir", directory]  # bubblewrap would make them 0700
    for path in sorted(binds):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def _import_path() -> str:
    """The parent's import path, so workers import the same harness and plugins it does."""
    entries = [os.path.abspath(p or os.getcwd()) for p in sys.path]
    return os.pathsep.join(p for p in dict.fromkeys(entries) if os.path.isdir(p))


def bwrap_command(capabilities: Iterable[str], tmp_bytes: int) -> list[str]:
    """The bubblewrap command line (without the program to run) of a sandboxed process: our
    namespaces, a read-only view of the file system, a private `tmp_bytes`-capped /tmp, Python
    reachable for any uid, working directory /, every capability dropped but `capabilities`."""
    command = [detect().bwrap, *bwrap_namespace_args(),
               "--ro-bind", "/", "/", "--size", str(tmp_bytes), "--tmpfs", "/tmp",
               "--proc", "/proc", "--dev", "/dev", *_python_mounts(),
               "--chdir", "/", "--cap-drop", "ALL"]
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
