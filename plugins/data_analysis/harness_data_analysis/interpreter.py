"""The persistent interpreter of a session, seen from the parent: a sandboxed worker process.

The model's code runs in a separate Python process (`harness_data_analysis.worker`) that keeps
its namespace across turns, isolated as `harness.sandbox` isolates code samples: the same level
detection and configured minimum (`choose_level`; below the minimum the interpreter refuses with
`SandboxUnavailable`), and at the `namespaces` level (the default) the worker is started inside
bubblewrap with the sandbox's command line (`bwrap_command`): its own network namespace (only
`lo`), pid, IPC and UTS namespaces, a read-only root holding only the sandbox's view
(`harness.sandbox.view`: the interpreter, the standard library, pandas and numpy with their
requirements, a staged copy of the worker's modules, scikit-learn's bundled data files) and
the CSV it loads, a private size-capped /tmp whose `/tmp/work` is its working directory. From
the `process` level on it runs as its own non-root uid (`allocate_uid`), dropped to after the
CSV is loaded. `strict` is `namespaces`: a session already gets a fresh sandbox of its own. A
worker that dies before it has loaded the CSV cannot start at all (a module it cannot import):
that raises `SandboxSetupError`, not an `InterpreterError`. On top of that, at every level:

- resource limits the worker sets on itself (address space, CPU seconds per run and per session,
  file size, open files, processes of its uid, no core dumps);
- a wall-clock deadline per run, enforced here: past it the worker is killed with its process
  group, and at the `namespaces` level with its whole pid namespace;
- a cleared environment (a fixed handful of variables), stdin on /dev/null, output capped per
  stream.

A run that kills the process (deadline, CPU limit, a crash) does not lose the session: the
interpreter starts a fresh process and re-runs the code of the earlier runs that completed, so
variables defined before are back. If that replay itself fails, `InterpreterLost` is raised.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from harness.sandbox.levels import IsolationLevel, choose_level
from harness.sandbox.limits import Limits
from harness.sandbox.pool import allocate_uid, bwrap_command, release_uid, spawn
from harness.sandbox.view import SandboxSetupError, View, python_executable, view
from harness_data_analysis.datasets import BUNDLED_PREFIX

WORKER = "harness_data_analysis.worker"
CONFINE = "harness.sandbox.confine"
"""The sandbox's own confinement (rlimits, no-new-privs, its uid), which the worker applies to
itself: staged beside it."""
PACKAGES = ("pandas", "numpy", "pyarrow")
"""What the model's code may import besides the standard library (with their requirements):
pandas uses pyarrow for its string columns when it is installed, as it is in the parent."""


RUN_LIMITS = Limits(wall_seconds=30.0, cpu_seconds=30, memory_bytes=2048 << 20)
"""The default limits of one run of code (pandas itself takes about 330 MB of address space)."""


@dataclass(frozen=True)
class SessionLimits:
    """What one session's interpreter may use: the sandbox's `Limits` for each run of code, and
    what only a persistent session has."""

    run: Limits = RUN_LIMITS
    """Per run of code: `wall_seconds` (past it the process group is killed), `cpu_seconds`
    (RLIMIT_CPU, re-armed before each run), and for the process `memory_bytes` (RLIMIT_AS; pandas
    itself takes about 330 MB), `file_size_bytes` (bigger writes fail with OSError), `open_files`,
    `processes` (of the worker's own uid, from the `process` level). Its output fields do not
    apply: `output_chars` below does."""
    cpu_total_seconds: int = 600
    """CPU seconds for the whole session (the hard RLIMIT_CPU)."""
    tmp_bytes: int = 256 << 20
    """Size of the private /tmp (the working directory) at the `namespaces` level."""
    output_chars: int = 20_000
    """Characters of stdout and of stderr kept per run; the rest is counted, not kept."""
    value_chars: int = 100_000
    """Largest hook or submit value, as JSON text."""
    hooks_per_run: int = 100
    """Hooks one run may record (a hook in a long loop would bloat the episode record)."""
    startup_timeout_seconds: float = 120.0
    """Wall-clock seconds to start the process and load the CSV."""


@dataclass
class Execution:
    """What one run produced."""

    success: bool
    stdout: str = ""
    stderr: str = ""
    hooks: list[dict[str, Any]] = field(default_factory=list)
    submitted: bool = False
    submitted_answer: Any = None
    killed: str | None = None
    """`timeout`, `cpu_limit` or `crashed` when the process did not survive the run."""


class InterpreterError(RuntimeError):
    """The interpreter process could not be started (bad CSV, broken installation)."""


class InterpreterLost(InterpreterError):
    """After a killed run, replaying the earlier runs into a fresh process failed too."""


class _Killed(Exception):
    def __init__(self, how: str, detail: str) -> None:
        super().__init__(detail)
        self.how = how


# The whole environment of the worker: nothing of the parent's leaks in (keys, tokens, proxies).
_BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONHASHSEED": "0",  # set and dict-of-set iteration order must not vary between replays
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONIOENCODING": "utf-8",
    "OPENBLAS_NUM_THREADS": "1",  # BLAS thread pools would reserve address space per thread
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
    # pandas' string columns use pyarrow, whose default allocator reserves ~1 GB of address space
    # up front; the system allocator keeps RLIMIT_AS meaningful.
    "ARROW_DEFAULT_MEMORY_POOL": "system",
}
SANDBOX_WORKDIR = "/tmp/work"
"""The working directory (also HOME and TMPDIR) inside the sandbox's private /tmp."""
_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN")
"""What the worker keeps inside bubblewrap until it drops to its uid: switching to it, and
handing it the working directory."""


class Interpreter:
    """A persistent Python interpreter over one CSV, in a worker process started on first use."""

    def __init__(
        self,
        csv_source: str,
        seed: int,
        limits: SessionLimits | None = None,
        *,
        isolation: str | IsolationLevel | None = None,
        minimum: str | IsolationLevel | None = None,
    ) -> None:
        self.csv_source = csv_source
        self.seed = seed
        self.limits = limits or SessionLimits()
        self.level, self.minimum = choose_level(isolation, minimum)
        if self.level is IsolationLevel.STRICT:  # a session's sandbox is fresh already
            self.level = IsolationLevel.NAMESPACES
        self.view = worker_view()
        self.uid: int | None = None
        if self.level >= IsolationLevel.PROCESS:
            self.uid = allocate_uid()  # kept across restarts, given back with the object
            weakref.finalize(self, release_uid, self.uid)
        self.history: list[tuple[str, str]] = []  # (cell, code) of runs the process survived
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: str | None = None
        self._log: IO[bytes] | None = None
        self._buffer = bytearray()
        self._finalizer: weakref.finalize | None = None

    @property
    def pid(self) -> int | None:
        """The worker's process id (also its process group id), while it runs: bubblewrap's at
        the `namespaces` level."""
        return self._proc.pid if self._proc is not None else None

    # -- running code ----------------------------------------------------------------------------

    def run(self, code: str, cell: str) -> Execution:
        """Run `code` as cell `cell` (e.g. `<turn 2>`), within the limits."""
        if self._proc is None:
            self._spawn()
        try:
            reply = self._request(
                {"op": "run", "code": code, "cell": cell}, self.limits.run.wall_seconds
            )
        except _Killed as killed:
            self._restore()
            note = (
                "The interpreter was restarted and the code of the earlier turns run again, "
                "so what they defined is back."
            )
            return Execution(success=False, stderr=f"{killed}\n{note}\n", killed=killed.how)
        self.history.append((cell, code))
        return Execution(
            success=bool(reply["success"]),
            stdout=reply["stdout"],
            stderr=reply["stderr"],
            hooks=reply["hooks"],
            submitted=bool(reply["submitted"]),
            submitted_answer=reply["submitted_answer"],
        )

    def _restore(self) -> None:
        """A fresh process with the earlier runs replayed into it (their output is discarded)."""
        self._stop()
        self.restarts += 1
        self._spawn()
        for cell, code in self.history:
            try:
                self._request({"op": "run", "code": code, "cell": cell}, self.limits.run.wall_seconds)
            except _Killed as killed:
                self._stop()
                raise InterpreterLost(
                    f"re-running {cell} in a fresh interpreter failed: {killed}"
                ) from None

    # -- the process -----------------------------------------------------------------------------

    def _spawn(self) -> None:
        # The worker's fd 1 and 2: C-level output, crashes.
        self._log = log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker
        # -S: no site-packages but the view's (PYTHONPATH); -P: the working directory is not
        # on sys.path.
        command = [python_executable(), "-S", "-P", "-m", WORKER]
        if self.uid is not None:
            command += ["--uid", str(self.uid)]
        mounted = self.level >= IsolationLevel.NAMESPACES
        csv_source = self.csv_source
        if not csv_source.startswith(BUNDLED_PREFIX):  # a path: loaded from where it is
            csv_source = os.path.abspath(csv_source)
        if mounted:
            self._workdir = None  # in the sandbox's own /tmp, gone with it
            workdir, cwd = SANDBOX_WORKDIR, "/"
            binds = [(csv_source, csv_source)] if os.path.isfile(csv_source) else []
            sandbox = bwrap_command(self.view, _CAPABILITIES, self.limits.tmp_bytes, binds)
            command = [*sandbox, *command, "--workdir", workdir]
        else:
            self._workdir = workdir = cwd = tempfile.mkdtemp(prefix="harness-data-analysis-")
            if self.uid is not None:
                os.chown(workdir, self.uid, self.uid)
        env = {**_BASE_ENV, "HOME": workdir, "TMPDIR": workdir,
               "PYTHONPATH": self.view.python_path(mounted)}
        # From the sandbox's long-lived thread: bubblewrap's --die-with-parent fires when the
        # thread that started it ends, and steps may run in short-lived threads (astep). The
        # function must not hold `self`: the spawner thread keeps it, and the garbage collector
        # must be able to stop a dropped interpreter.
        self._proc = spawn(lambda: subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=cwd,
            env=env,
            start_new_session=True,  # its own process group, killed as a whole
            close_fds=True,
        ))
        self._buffer.clear()
        self._finalizer = weakref.finalize(
            self, _kill_group, self._proc, self._workdir, self._log, self.uid
        )
        limits = asdict(self.limits)
        try:
            reply = self._request(
                {"op": "init", "csv_source": csv_source, "seed": self.seed, "limits": limits},
                self.limits.startup_timeout_seconds,
            )
        except _Killed as killed:
            self._stop()
            if killed.how == "crashed":  # it died before loading anything: it cannot start
                raise SandboxSetupError(
                    f"the data-analysis interpreter cannot start ({self.level.label} level): "
                    f"{killed}\nIts code imports only the standard library, "
                    f"{', '.join(PACKAGES)} (with their requirements) and a copy of "
                    f"{', '.join(sorted(self.view.staged))}: check that they are installed."
                ) from None
            raise InterpreterError(f"the interpreter did not start: {killed}") from None
        if not reply.get("ok"):
            self._stop()
            raise InterpreterError(f"{self.csv_source}: {reply.get('error')}")

    def _request(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(message).encode("utf-8") + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise self._death() from None
        line = self._read_line(time.monotonic() + timeout_s, timeout_s)
        try:
            return json.loads(line)
        except ValueError:
            self._kill()
            raise _Killed("crashed", "the interpreter sent an unreadable reply") from None

    def _read_line(self, deadline: float, timeout_s: float) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise _Killed(
                    "timeout",
                    f"TimeoutError: the code ran longer than {timeout_s:g} s and was stopped",
                )
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise self._death()
                self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer[:] = rest
        return line

    def _death(self) -> _Killed:
        """Why the worker went away (it closed its pipe), once it is reaped."""
        assert self._proc is not None
        try:
            code = self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # it closed the pipe but lives on: stop it
            self._kill()
            code = self._proc.returncode
        self._kill()  # whatever it started may still be running
        if self.level >= IsolationLevel.NAMESPACES and code > 128:
            code = 128 - code  # bubblewrap exits 128 + N for a worker killed by signal N
        if code == -signal.SIGXCPU:
            return _Killed(
                "cpu_limit",
                f"the code used more than {self.limits.run.cpu_seconds} s of CPU time and was stopped",
            )
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        detail = f"the interpreter process died ({how})"
        tail = self._log_tail()
        return _Killed("crashed", f"{detail}\n{tail}" if tail else detail)

    def _log_tail(self, chars: int = 2000) -> str:
        if self._log is None:
            return ""
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - chars))
        return self._log.read().decode("utf-8", "replace").strip()

    def _kill(self) -> None:
        if self._proc is not None:
            _kill_all(self._proc, self.uid)

    def _stop(self) -> None:
        """Kill the process group and forget the process (its working directory goes too)."""
        if self._finalizer is not None:
            self._finalizer()  # idempotent: kills, reaps, removes the directory, closes the log
            self._finalizer = None
        self._proc, self._workdir, self._log = None, None, None

    def close(self) -> None:
        """Stop the worker and everything it started. Idempotent."""
        self._stop()


def worker_view() -> View:
    """What the interpreter process sees (`harness.sandbox.view`): its modules, pandas and numpy,
    and scikit-learn's bundled data files (only those) where `load_frame` looks for them."""
    data = {}
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        bundled = os.path.join(next(iter(spec.submodule_search_locations)), "datasets", "data")
        if os.path.isdir(bundled):
            data[BUNDLED_PREFIX.rstrip("/")] = os.path.realpath(bundled)
    return view([WORKER, CONFINE], PACKAGES, data)


def _kill_all(proc: subprocess.Popen[bytes], uid: int | None) -> None:
    """Kill the worker and everything it started; return once they are gone. At the
    `namespaces` level `proc` is bubblewrap, whose child is the init of the sandbox's pid
    namespace: when that dies the kernel kills every process in the namespace, and its pidfd
    turns readable only after they have exited."""
    inits = [_pidfd(pid) for pid in _children(proc.pid)]
    with contextlib.suppress(ProcessLookupError):  # the group is already empty
        os.killpg(proc.pid, signal.SIGKILL)  # the worker's process group (bubblewrap's + init)
    for pidfd in filter(None, inits):
        select.select([pidfd], [], [], 60)
        os.close(pidfd)
    proc.wait()
    if uid is not None:  # processes that left the group (at the `process` level: setsid)
        subprocess.run(["kill", "-KILL", "-1"], user=uid, group=uid, extra_groups=[],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as file:
                    stat = file.read()
            except OSError:
                continue
            if int(stat.rsplit(b")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None  # already gone


def _kill_group(
    proc: subprocess.Popen[bytes], workdir: str | None, log: IO[bytes], uid: int | None
) -> None:
    """Also run by the garbage collector when a session is dropped without close()."""
    _kill_all(proc, uid)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()
    log.close()
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)
