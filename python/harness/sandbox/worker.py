"""The pre-warmed worker: a single-threaded process that forks one child per sample.

Started by `harness.sandbox.pool` (inside bubblewrap at the `namespaces` and `strict` levels) as
`python -S -P -m harness.sandbox.worker`, from the staged copy of the sandbox's view
(`harness.sandbox.view`). It imports the modules it will need once (`--preload`; a failure is
its first and only answer, and the pool raises it), then
for each request: makes a private directory for the sample, forks, and in the child drops to the
worker's own uid with resource limits, a cleared environment, stdin from /dev/null, stdout and
stderr into capped pipes and the trusted results channel on fd 3, and calls the request's entry
point. The worker itself enforces the wall-clock deadline, then kills every process of the sample
(its process group, then anything else running under the sample uid) before it answers.

It talks to the parent over fds it duplicated from its stdin/stdout at start-up; children close
them, so a sample cannot talk to the parent or forge a reply.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib
import io
import os
import random
import select
import shutil
import signal
import sys
import threading
import time
import traceback
from typing import Any

from harness.sandbox.confine import drop_privileges, set_resource_limits
from harness.sandbox.protocol import read_json, write_frame, write_json

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
SAMPLE_PATH = "/usr/local/bin:/usr/bin:/bin"
RESULT_FD = 3
SAMPLE_RANDOM_SEED = 0


class Worker:
    def __init__(self, uid: int | None, tmp_root: str, preload: list[str]) -> None:
        self.uid = uid
        self.tmp_root = tmp_root
        self.counter = 0
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        self.children_file = f"/proc/self/task/{os.getpid()}/children"
        for module in preload:
            try:
                importlib.import_module(module)
            except Exception as exc:
                raise _StartupError(f"cannot import {module!r}: {type(exc).__name__}: {exc}") from exc
        if len(os.listdir("/proc/self/task")) != 1:
            raise _StartupError("a sandbox worker must be single-threaded (a preload started a thread)")
        # A sample is a fork of this process, and every page the child writes to is copied, at a
        # few microseconds each. So what every sample needs is set up here, once: the standard
        # streams (the child redirects fds 0-2 under them), the environment (HOME and TMPDIR
        # are set per sample, before the fork), the import path.
        self.devnull = os.open(os.devnull, os.O_RDONLY)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - the process's own streams
        sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        # typeshed declares these Final; the worker replaces them on purpose (samples see them).
        sys.__stdout__, sys.__stderr__, sys.__stdin__ = sys.stdout, sys.stderr, sys.stdin  # type: ignore[misc]
        os.environ.clear()
        os.environ.update({"PATH": SAMPLE_PATH, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"})
        sys.path[:] = [p for p in sys.path if p and os.path.isabs(p)]
        # fork(2) itself rather than os.fork(): os.fork() runs the interpreter's at-fork
        # handlers (threading's and random's re-initialisation), which touch ~180 pages, more
        # than the rest of a small sample. They protect locks held by other threads, and this
        # process has none. `random` is not reseeded in the child, so it is seeded here, like
        # PYTHONHASHSEED: every sample starts from the same state, and a verdict repeats.
        random.seed(SAMPLE_RANDOM_SEED)
        self._fork = ctypes.PyDLL(None, use_errno=True).fork  # PyDLL: the GIL stays held
        self._fork.restype = ctypes.c_int
        gc.collect()
        gc.freeze()

    # -- the parent side of one sample -----------------------------------------------------

    def run(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        limits = request["limits"]
        module, _, attribute = request["entry"].partition(":")
        entry = getattr(importlib.import_module(module), attribute)
        if not request.get("fork", True):
            return self._run_inline(entry, request)
        self.counter += 1
        self.killed = 0
        sample_dir = os.path.join(self.tmp_root, f"sample-{self.counter}")
        os.mkdir(sample_dir, 0o700)
        if self.uid is not None:
            os.chown(sample_dir, self.uid, self.uid)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        os.environ["HOME"] = os.environ["TMPDIR"] = sample_dir
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # nothing of the worker's may reach the sample's pipes
        started = time.monotonic()
        if threading.active_count() == 1:
            pid = self._fork()
            if pid < 0:
                errno = ctypes.get_errno()
                raise OSError(errno, f"fork: {os.strerror(errno)}")
        else:  # an inline entry point started a thread: take the interpreter's careful path
            pid = os.fork()
        if pid == 0:
            self._child(entry, request, sample_dir, out_w, err_w, res_w)  # never returns
        for fd in (out_w, err_w, res_w):
            os.close(fd)
        try:
            reply, result = self._collect(pid, started, limits, out_r, err_r, res_r)
        finally:
            for fd in (out_r, err_r, res_r):
                os.close(fd)
            self._kill_sample(pid)
            try:
                os.rmdir(sample_dir)  # most samples write no files
            except OSError:
                shutil.rmtree(sample_dir, ignore_errors=True)
        reply["survivors_killed"] = self.killed
        return reply, result

    def _run_inline(self, entry: Any, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        """Run a *trusted* entry point in this process, without a fork (a judge replaying a
        test on plain data): still inside the worker's namespaces, under a deadline raised as an
        exception. Saves a fork per call; never used for candidate code."""
        limits = request["limits"]
        results, out = io.BytesIO(), io.StringIO()
        status, code = "exited", 0

        def expire(signum: int, frame: Any) -> None:
            raise _Deadline()

        started = time.monotonic()
        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, float(limits["wall_seconds"]))
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                entry(request.get("payload"), results)
        except _Deadline:
            status = "timeout"
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            code = 1
            out.write(traceback.format_exc(limit=8))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        text = out.getvalue()[-int(limits["output_bytes"]):]
        reply = {"status": status, "exit_code": code if status == "exited" else None,
                 "stdout": "", "stderr": text, "stderr_bytes": len(text),
                 "wall_seconds": time.monotonic() - started}
        return reply, results.getvalue()[: int(limits["result_bytes"])]

    def _collect(
        self, pid: int, started: float, limits: dict[str, Any], out_r: int, err_r: int, res_r: int
    ) -> tuple[dict[str, Any], bytes]:
        deadline = started + float(limits["wall_seconds"])
        keep = int(limits["output_bytes"])
        kill_at = int(limits["output_kill_bytes"])
        result_cap = int(limits["result_bytes"])
        tails = {out_r: bytearray(), err_r: bytearray()}
        totals = {out_r: 0, err_r: 0}
        result = bytearray()
        status = None
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        for fd in (out_r, err_r, res_r, pidfd):
            poller.register(fd, select.POLLIN)
        open_fds = 3
        try:
            while open_fds and status is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    status = "timeout"
                    break
                for fd, _ in poller.poll(remaining * 1000):
                    if fd == pidfd:
                        # The main process is gone; whatever still holds a pipe open is a
                        # leftover (a daemon): kill it so the pipes reach end of file.
                        poller.unregister(pidfd)
                        self._kill_sample(pid)
                        continue
                    chunk = os.read(fd, 1 << 16)  # poll said readable: this does not block
                    if not chunk:
                        poller.unregister(fd)
                        open_fds -= 1
                        continue
                    if fd == res_r:
                        result += chunk
                        if len(result) > result_cap:
                            status = "output_limit"
                        continue
                    totals[fd] += len(chunk)
                    tail = tails[fd]
                    tail += chunk
                    if len(tail) > keep:
                        del tail[: len(tail) - keep]
                    if totals[out_r] + totals[err_r] > kill_at:
                        status = "output_limit"
        finally:
            os.close(pidfd)
        if status is not None:
            self._kill_sample(pid)
        _, wait_status = os.waitpid(pid, 0)
        elapsed = time.monotonic() - started
        exit_code = os.waitstatus_to_exitcode(wait_status)
        if status is None:
            status = "exited" if exit_code >= 0 else "signaled"
        reply = {
            "status": status,
            "exit_code": exit_code if exit_code >= 0 else None,
            "signal": -exit_code if exit_code < 0 else None,
            "stdout": tails[out_r].decode("utf-8", "replace"),
            "stderr": tails[err_r].decode("utf-8", "replace"),
            "stdout_bytes": totals[out_r],
            "stderr_bytes": totals[err_r],
            "wall_seconds": elapsed,
        }
        return reply, bytes(result[:result_cap])

    def _kill_sample(self, pid: int) -> None:
        """Kill the sample's process group, then every other process of the sample; count those
        in `self.killed` (daemons that left the group). The worker is a child subreaper, so every
        descendant of a sample that outlives its parent becomes the worker's own child: reading
        the worker's children finds them without scanning /proc."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        for _ in range(1000):
            alive = []
            for child in self._children():
                if child == pid:
                    continue  # the main process: _collect waits for it
                try:
                    done, _ = os.waitpid(child, os.WNOHANG)
                except ChildProcessError:
                    continue
                if done == 0:
                    alive.append(child)
            if not alive:
                return
            self.killed += len(alive)
            if self.uid is None:
                for child in alive:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGKILL)
            else:
                self._kill_uid()
            for child in alive:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(child, 0)
        raise RuntimeError(f"processes of sample {pid} survive repeated SIGKILL")

    def _kill_uid(self) -> None:
        """kill(-1) as the sample uid reaches exactly the processes of that uid, however they
        detached from the group (it spares the caller, which exits at once)."""
        uid = self.uid
        assert uid is not None  # only samples with a uid of their own get here
        reaper = os.fork()
        if reaper == 0:
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(reaper, 0)

    def _children(self) -> list[int]:
        fd = os.open(self.children_file, os.O_RDONLY)
        try:
            chunks = [os.read(fd, 1 << 16)]
            while chunks[-1]:
                chunks.append(os.read(fd, 1 << 16))
        finally:
            os.close(fd)
        return [int(p) for p in b"".join(chunks).split()]

    # -- the child ----------------------------------------------------------------------------

    def _child(
        self, entry: Any, request: dict[str, Any], sample_dir: str, out_w: int, err_w: int, res_w: int
    ) -> None:
        code = 70
        try:
            os.setsid()
            os.dup2(self.devnull, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.dup2(res_w, RESULT_FD)
            os.closerange(RESULT_FD + 1, 1 << 16)  # the protocol fds and every other pipe
            self._limit(request["limits"])
            os.chdir(sample_dir)
            for name, text in (request.get("files") or {}).items():
                _write_sample_file(sample_dir, name, text)
            results = os.fdopen(RESULT_FD, "wb", buffering=0)
            entry(request.get("payload"), results)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, int | None):
                print(exc.code, file=sys.stderr)
        except BaseException:
            with contextlib.suppress(BaseException):
                traceback.print_exc()
            code = 1
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(BaseException):
                    stream.flush()
            os._exit(code & 0xFF)

    def _limit(self, limits: dict[str, Any]) -> None:
        self.libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        set_resource_limits(limits)
        drop_privileges(self.uid, limits["processes"], self.libc)


class _StartupError(Exception):
    """The worker cannot serve samples (a preload failed): told to the parent instead of ready."""


class _Deadline(BaseException):
    """The wall-clock deadline of an inline run (a BaseException: `except Exception` in the
    code it interrupts cannot swallow it)."""


def _write_sample_file(sample_dir: str, name: str, text: str) -> None:
    path = os.path.normpath(os.path.join(sample_dir, name))
    if not path.startswith(sample_dir + os.sep):
        raise ValueError(f"sample file {name!r} is outside the sample directory")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="harness.sandbox.worker")
    parser.add_argument("--uid", type=int, default=None)
    parser.add_argument("--tmp-root", default="/tmp")
    parser.add_argument("--preload", default="")
    parser.add_argument("--once", action="store_true", help="serve one request, then exit")
    args = parser.parse_args(argv)
    # Keep the protocol on private fds; fd 1 becomes stderr so a stray print cannot corrupt it.
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    try:
        worker = Worker(args.uid, args.tmp_root, [m for m in args.preload.split(",") if m])
    except _StartupError as exc:
        write_json(proto_out, {"ready": False, "error": str(exc)})
        raise SystemExit(1) from None
    write_json(proto_out, {"ready": True, "pid": os.getpid(), "uid": args.uid})
    while True:
        request = read_json(proto_in)
        if request is None:
            return
        try:
            reply, result = worker.run(request)
        except Exception:
            reply, result = {"status": "error", "error": traceback.format_exc(limit=5)}, b""
        write_json(proto_out, reply)
        write_frame(proto_out, result)
        if args.once:
            return


if __name__ == "__main__":
    main()
