"""The interpreter process: runs a session's cells one after another in one persistent namespace.

Started by `harness_data_analysis.interpreter.Interpreter` as `python -S -P -m
harness_data_analysis.worker [--uid UID] [--workdir DIR]` (inside bubblewrap at the `namespaces`
level), from the staged copy of the sandbox's view (`harness.sandbox.view`: it imports only the
standard library, pandas, numpy and the modules of this package it names), never imported by
the parent. It speaks JSON lines over its
original stdin/stdout, which it moves to private descriptors first: the model's code then sees
/dev/null as stdin, and anything written straight to descriptors 1 and 2 goes to the parent's log
file instead of corrupting the protocol. Python-level output (`print`, warnings, tracebacks) is
captured per cell, capped.

Requests and replies, one JSON object per line:

    {"op": "init", "csv_source": ..., "seed": ..., "limits": {...}}
        -> {"ok": true} | {"ok": false, "error": ...}
    {"op": "run", "code": ..., "cell": "<turn 0>"}
        -> {"success", "stdout", "stderr", "hooks", "submitted", "submitted_answer"}

The namespace holds `df`, `pd`, `np`, `submit(answer)` and `hook(value, name=...)`. Resource limits
(address space, CPU time, file size, open files, processes) are set here, on itself, with the
sandbox's own `harness.sandbox.confine` (as a code sample gets them), after pandas is imported
and the CSV loaded, and then, given `--uid`, the worker drops to that uid for good (no-new-privs
set); the wall-clock deadline is the parent's job, since a stuck process cannot
enforce it.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import linecache
import math
import os
import random
import resource
import signal
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.sandbox.confine import drop_privileges, set_resource_limits
from harness_data_analysis.datasets import load_frame
from harness_data_analysis.values import dumps, normalise, value_hash


class Submitted(BaseException):
    """Raised by submit() to stop the cell; a BaseException, so `except Exception` lets it by."""


class CappedText(io.TextIOBase):
    """A text stream keeping the first `limit` characters and counting the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def getvalue(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n... [{self.dropped} more characters not kept]\n"
        # Lone surrogates (from odd bytes decoded by model code) cannot be written as UTF-8.
        return text.encode("utf-8", "replace").decode("utf-8")


@dataclass
class Cell:
    source: str
    tree: ast.Module


class Kernel:
    """The persistent namespace and the `hook` / `submit` functions the model's code calls."""

    def __init__(self, csv_source: str, seed: int, limits: dict[str, Any]) -> None:
        self.limits = limits
        self.cells: dict[str, Cell] = {}
        self.hook_targets: dict[str, str] = {}  # variable hooked -> the hook's name (depends_on)
        self.n_hooks = 0
        self.cell_hooks: list[dict[str, Any]] = []
        self.submitted = False
        self.answer: Any = None
        random.seed(seed)
        # Wide enough that printing a DataFrame shows its columns instead of "...".
        pd.set_option("display.width", 160)
        pd.set_option("display.max_columns", 40)
        np.random.seed(seed % 2**32)
        self.namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__builtins__": __builtins__,
            "df": load_frame(csv_source),
            "pd": pd,
            "np": np,
            "submit": self.submit,
            "hook": self.hook,
        }

    # -- the functions model code calls ---------------------------------------------------------

    def submit(self, answer: Any) -> None:
        """Submit the final answer; ends the cell and the episode. The first submission counts."""
        value = self._checked(answer, "submit()")
        if not self.submitted:
            self.submitted, self.answer = True, value
        raise Submitted

    def hook(
        self,
        value: Any,
        name: str | None = None,
        *,
        depends_on: list[str] | None = None,
        description: str = "",
    ) -> Any:
        """Record an intermediate value; returns it, so `x = hook(expr, name="x")` works."""
        if len(self.cell_hooks) >= self.limits["hooks_per_run"]:
            raise RuntimeError(
                f"hook(): this code already recorded {len(self.cell_hooks)} values, the most "
                "one turn may record; hook fewer values (not one per loop iteration)"
            )
        normalised = self._checked(value, "hook()")
        frame = sys._getframe(1)
        call = self._call_site(frame)
        first = call.args[0] if call is not None and call.args else None
        variable = first.id if isinstance(first, ast.Name) else None
        if name is None:
            name = variable or f"value_{self.n_hooks}"
        name = str(name)
        statement = self._defining_statement(frame, call, variable)
        code_line = statement[0] if statement else ""
        used = _loaded_names(statement[1]) if statement else set()
        inferred = [self.hook_targets[v] for v in sorted(used) if v in self.hook_targets]
        depends = list(dict.fromkeys([*(str(d) for d in depends_on or []), *inferred]))
        self.cell_hooks.append(
            {
                "variable_name": name,
                "code_line": code_line,
                "value": normalised,
                "value_hash": value_hash(normalised),
                "depends_on": [d for d in depends if d != name],
                "description": str(description),
            }
        )
        self.n_hooks += 1
        self.hook_targets[variable or name] = name
        return value

    def _checked(self, value: Any, what: str) -> Any:
        normalised = normalise(value)  # a TypeError here reaches the model's code, as it should
        size = len(dumps(normalised))
        if size > self.limits["value_chars"]:
            raise ValueError(
                f"{what}: the value is {size} characters as JSON, over the limit of "
                f"{self.limits['value_chars']}; pass something smaller (a summary, a few rows)"
            )
        return normalised

    # -- where a hooked value was computed -------------------------------------------------------

    def _call_site(self, frame: Any) -> ast.Call | None:
        """The `hook(...)` call node the frame is executing, when it runs in a cell."""
        cell = self.cells.get(frame.f_code.co_filename)
        if cell is None:
            return None
        # (lineno, end_lineno, col, end_col) of the instruction running; inspect.getframeinfo
        # would scan sys.modules to find the file, needlessly.
        positions = list(frame.f_code.co_positions())
        col = positions[frame.f_lasti // 2][2] if frame.f_lasti // 2 < len(positions) else None
        calls = [
            n
            for n in ast.walk(cell.tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "hook"
            and n.lineno == frame.f_lineno
        ]
        for call in calls:
            if call.col_offset == col:
                return call
        return calls[0] if calls else None

    def _defining_statement(
        self, frame: Any, call: ast.Call | None, variable: str | None
    ) -> tuple[str, ast.AST] | None:
        """The source of the latest assignment to `variable` (this cell, then earlier ones), or
        of the statement making the hook call."""
        cell_name = frame.f_code.co_filename
        if variable is not None:
            names = list(self.cells)
            if cell_name in names:  # this cell and the ones before it, latest first
                names = names[: names.index(cell_name) + 1]
            for cell_key in reversed(names):
                cell = self.cells[cell_key]
                limit = frame.f_lineno if cell_key == cell_name else math.inf
                found = [
                    s
                    for s in ast.walk(cell.tree)
                    if isinstance(s, ast.Assign | ast.AugAssign | ast.AnnAssign)
                    and s.lineno <= limit
                    and variable in _stored_names(s)
                ]
                if found:
                    stmt = max(found, key=lambda s: s.lineno)
                    return ast.get_source_segment(cell.source, stmt) or "", stmt
        current = self.cells.get(cell_name)
        if current is None or call is None:
            return None
        enclosing = [
            s
            for s in ast.walk(current.tree)
            if isinstance(s, ast.stmt) and s.lineno <= call.lineno <= (s.end_lineno or s.lineno)
            and not isinstance(s, ast.FunctionDef | ast.ClassDef | ast.For | ast.While | ast.If
                               | ast.With | ast.Try | ast.AsyncFunctionDef)
        ]
        if not enclosing:
            return None
        innermost = max(enclosing, key=lambda s: (s.lineno, s.col_offset))
        return ast.get_source_segment(current.source, innermost) or "", innermost

    # -- running a cell --------------------------------------------------------------------------

    def run(self, code: str, cell_name: str) -> dict[str, Any]:
        self.cell_hooks = []
        submitted_before = self.submitted
        out = CappedText(self.limits["output_chars"])
        err = CappedText(self.limits["output_chars"])
        self._arm_cpu_limit()
        success = True
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                self._execute(code, cell_name)
            except Submitted:
                pass
            except BaseException as exc:  # SystemExit and KeyboardInterrupt are model errors too
                success = False
                err.write(self._format_exception(exc))
        return {
            "success": success,
            "stdout": out.getvalue(),
            "stderr": err.getvalue(),
            "hooks": self.cell_hooks,
            "submitted": self.submitted and not submitted_before,
            "submitted_answer": self.answer if self.submitted and not submitted_before else None,
        }

    def _execute(self, code: str, cell_name: str) -> None:
        tree = ast.parse(code, filename=cell_name)
        self.cells[cell_name] = Cell(code, tree)
        # Tracebacks and inspect read the cell's source through linecache.
        linecache.cache[cell_name] = (len(code), None, code.splitlines(keepends=True), cell_name)
        last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        body = ast.Module(body=tree.body[:-1] if last else tree.body, type_ignores=[])
        exec(compile(body, cell_name, "exec"), self.namespace)
        if last is not None:  # show the value of a final expression, as a notebook does
            result = eval(compile(ast.Expression(last.value), cell_name, "eval"), self.namespace)
            if result is not None:
                print(repr(result))

    def _format_exception(self, exc: BaseException) -> str:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename not in self.cells:
            tb = tb.tb_next  # leave out this module's own frames
        return "".join(traceback.format_exception(type(exc), exc, tb))

    def _arm_cpu_limit(self) -> None:
        """Allow this cell `cpu_s` more seconds of CPU time (the hard limit caps the session)."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        used = usage.ru_utime + usage.ru_stime
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = math.ceil(used + self.limits["run"]["cpu_seconds"])
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _stored_names(stmt: ast.AST) -> set[str]:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]  # type: ignore
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _loaded_names(node: ast.AST) -> set[str]:
    value = node.value if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) else node
    if value is None:
        return set()
    names = (n for n in ast.walk(value) if isinstance(n, ast.Name))
    return {n.id for n in names if isinstance(n.ctx, ast.Load)}


def _apply_limits(limits: dict[str, Any], uid: int | None) -> None:
    """The sandbox's confinement (`harness.sandbox.confine`), as a sample gets it, but with the
    session's CPU total as the hard CPU limit (each run re-arms the soft one)."""
    set_resource_limits(limits["run"], cpu_hard_seconds=limits["cpu_total_seconds"])
    # A write over the file-size limit should fail with an OSError, not kill the interpreter.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # A uid of its own: RLIMIT_NPROC then counts this session only; no capability is left after.
    drop_privileges(uid, limits["run"]["processes"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="harness_data_analysis.worker")
    parser.add_argument("--uid", type=int, help="run the model's code as this uid")
    parser.add_argument("--workdir", help="create this working directory (in the sandbox's /tmp)")
    args = parser.parse_args(argv)
    if args.workdir is not None:
        os.makedirs(args.workdir, mode=0o700, exist_ok=True)
        os.chdir(args.workdir)
    if args.uid is not None:
        os.chown(".", args.uid, args.uid)
    # Keep the protocol on private descriptors; the model's code gets /dev/null and the log.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process

    def reply(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message).encode("utf-8") + b"\n")
        replies.flush()

    kernel: Kernel | None = None
    for line in requests:
        request = json.loads(line)
        if request["op"] == "init":
            try:
                kernel = Kernel(request["csv_source"], request["seed"], request["limits"])
                _apply_limits(request["limits"], args.uid)
            except Exception as exc:
                reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
                return
            reply({"ok": True})
        elif request["op"] == "run" and kernel is not None:
            reply(kernel.run(request["code"], request["cell"]))
        else:
            reply({"ok": False, "error": f"unexpected request {request.get('op')!r}"})
            return


if __name__ == "__main__":
    main()
