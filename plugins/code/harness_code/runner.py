"""The trusted programs that run inside the sandbox (entry points of `harness.sandbox`).

- `run_calls`: the candidate side. Executes the candidate's code, then calls its functions on the
  arguments it is given and writes each return value (or raised exception) as plain data to the
  results channel. It never sees a test or an expected value.
- `run_tests`: the judge side, in a separate process that never runs candidate code. Executes the
  reference program and the test function statement by statement, with the tested functions
  replaced by proxies. In `record` mode the proxies call the reference solution and record every
  call (the arguments the candidate will be given); in `replay` mode they return the candidate's
  recorded results. The test's own assertions thus decide, on data only.
- `run_pytest`: a pytest file in-process, conftest files and plugin autoloading off, outcomes
  reported by our plugin on the results channel.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import os
import random
from collections import deque
from typing import Any, BinaryIO

from harness_code import values

PRELUDE = (
    "import math\nimport re\nimport string\nimport sys\nimport collections\nimport heapq\n"
    "import itertools\nimport functools\nfrom typing import *\n"
)
"""Common imports every candidate and reference program gets, as the seed's test header did."""
TEST_SEED = 1234
"""`random` is seeded with this before a test runs, so unseeded tests ask the same questions in
the record and the replay runs."""


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__


def _write(results: BinaryIO, obj: Any) -> None:
    results.write(json.dumps(obj, allow_nan=True).encode())


def _prelude() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__builtins__": builtins}
    exec(compile(PRELUDE, "prelude.py", "exec"), namespace)
    return namespace


_PRELUDE_NAMESPACE = _prelude()
"""The prelude, run once when a worker preloads this module. Copying it is equivalent to running
it again (its imports are cached) but far cheaper in a forked sample: running the imports touches
hundreds of the worker's pages, and each touched page is copied (copy-on-write)."""


def _namespace(name: str) -> dict[str, Any]:
    return {**_PRELUDE_NAMESPACE, "__name__": name}


@functools.lru_cache(maxsize=512)
def _compiled(source: str, filename: str) -> Any:
    """Compiled trusted code (reference programs, tests): a judge runs without a fork per call,
    so it keeps what it compiled for the next sample of the same problem."""
    return compile(source, filename, "exec")


# -- candidate ----------------------------------------------------------------------------------


def run_calls(payload: dict[str, Any], results: BinaryIO) -> None:
    namespace = _namespace("solution")
    try:
        exec(compile(payload["code"], "solution.py", "exec"), namespace)
    except BaseException as exc:  # SystemExit too: exiting before the tests is a load failure
        _write(results, {"load_error": _describe(exc)})
        return
    classes = {k: v for k, v in namespace.items() if isinstance(v, type)}
    outcomes = []
    for name, args, kwargs in payload["calls"]:
        try:
            function = namespace[name]
        except KeyError:
            outcomes.append({"raised": "NameError", "message": f"name {name!r} is not defined"})
            continue
        try:
            value = function(*values.decode(args, classes), **values.decode(kwargs, classes))
            outcomes.append({"value": values.encode(value)})
        except BaseException as exc:
            outcomes.append({"raised": type(exc).__name__, "message": str(exc)[:300]})
    _write(results, {"outcomes": outcomes})


# -- judge --------------------------------------------------------------------------------------


class _Proxy:
    """Stands for a tested function inside the test code."""

    def __init__(self, judge: _Judge, name: str) -> None:
        self.judge, self.name = judge, name
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.judge.call(self.name, args, kwargs)


class ReplayMismatch(AssertionError):
    """The test asked the candidate something it was never asked (its earlier answers differ)."""


class _Judge:
    def __init__(self, payload: dict[str, Any]) -> None:
        self.mode = payload["mode"]
        self.reference = _namespace("reference")
        exec(_compiled(payload["program"], "reference.py"), self.reference)
        self.classes = {k: v for k, v in self.reference.items() if isinstance(v, type)}
        self.calls: list[list[Any]] = []
        self.outcomes: list[Any] = []
        self.answers: dict[str, deque[Any]] = {}
        if self.mode == "replay":
            for (name, args, kwargs), outcome in zip(payload["calls"], payload["outcomes"]):
                key = values.dumps([name, args, kwargs])
                self.answers.setdefault(key, deque()).append(outcome)

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        encoded_args, encoded_kwargs = values.encode(list(args)), values.encode(kwargs)
        if self.mode == "record":
            self.calls.append([name, encoded_args, encoded_kwargs])
            try:
                value = self.reference[name](*args, **kwargs)
            except BaseException as exc:
                self.outcomes.append({"raised": type(exc).__name__, "message": str(exc)[:300]})
                raise
            self.outcomes.append({"value": values.encode(value)})
            return value
        queue = self.answers.get(values.dumps([name, encoded_args, encoded_kwargs]))
        if not queue:
            raise ReplayMismatch(f"{name} was called with arguments the candidate was not given")
        outcome = queue.popleft()
        if "value" in outcome:
            return values.decode(outcome["value"], self.classes)
        raise _rebuild_exception(outcome)


def _rebuild_exception(outcome: dict[str, Any]) -> BaseException:
    cls = getattr(builtins, str(outcome.get("raised")), None)
    message = str(outcome.get("message", ""))
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls(message)
    return RuntimeError(f"{outcome.get('raised')}: {message}")


@functools.lru_cache(maxsize=512)
def _test_statements(test: str, function: str) -> list[tuple[Any, int, bool]] | None:
    """The body of the test function as (code, line, is a test) per statement, or None when it
    must run whole (a top-level `return` in it cannot run outside the function). Cached: the
    judge replays the same test for every sample of a problem."""
    for node in ast.parse(test).body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            body = list(node.body)
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            # Walking the syntax trees is most of the cost of a first record: only walk where
            # the source has the keyword at all.
            if any(word in test for word in ("return", "yield", "nonlocal")) and any(
                isinstance(n, (ast.Return, ast.Yield, ast.Nonlocal))
                for stmt in body for n in _walk_same_scope(stmt)
            ):
                return None
            lines = test.splitlines()
            return [
                (compile(ast.Module(body=[stmt], type_ignores=[]), "tests.py", "exec"),
                 stmt.lineno, _asserts(stmt, lines))
                for stmt in body
            ]
    raise ValueError(f"the tests define no function {function!r}")


def _asserts(stmt: ast.stmt, lines: list[str]) -> bool:
    source = "\n".join(lines[stmt.lineno - 1 : stmt.end_lineno])
    return "assert" in source and any(isinstance(n, ast.Assert) for n in ast.walk(stmt))


def _walk_same_scope(node: ast.AST):
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            yield from _walk_same_scope(child)


def run_tests(payload: dict[str, Any], results: BinaryIO) -> None:
    """payload: program (reference code), test (code defining `function`), function (its name),
    params (parameter name -> tested function name, e.g. {"candidate": "add"}), proxied (tested
    function names the test calls directly), mode (`record` or `replay`), and for `replay` the
    recorded `calls` and the candidate's `outcomes`."""
    judge = _Judge(payload)
    scope = dict(judge.reference)
    for name in payload["proxied"]:
        scope[name] = _Proxy(judge, name)
    exec(_compiled(payload["test"], "tests.py"), scope)
    for param, name in payload["params"].items():
        scope[param] = _Proxy(judge, name)
    statements = _test_statements(payload["test"], payload["function"])
    report = []
    random.seed(TEST_SEED)
    if statements is None:
        args = [scope[p] for p in payload["params"]]
        report.append(_run_unit(lambda: scope[payload["function"]](*args), 1, True))
    else:
        for code, line, is_test in statements:
            report.append(_run_unit(lambda code=code: exec(code, scope), line, is_test))
    _write(results, {"statements": report, "calls": judge.calls, "outcomes": judge.outcomes})


def _run_unit(action: Any, line: int, is_test: bool) -> dict[str, Any]:
    try:
        action()
    except BaseException as exc:
        return {"line": line, "test": is_test, "ok": False, "error": _describe(exc)}
    return {"line": line, "test": is_test, "ok": True}


# -- pytest ---------------------------------------------------------------------


class _Reporter:
    """pytest plugin writing each test's outcome, then a closing record, to the results channel."""

    def __init__(self, results: BinaryIO) -> None:
        self.results = results
        self.collected = 0

    def _line(self, obj: dict[str, Any]) -> None:
        self.results.write((json.dumps(obj) + "\n").encode())

    def pytest_collection_finish(self, session: Any) -> None:
        self.collected = len(session.items)
        self._line({"collected": self.collected})

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or report.outcome != "passed":
            self._line({"test": report.nodeid, "when": report.when, "outcome": report.outcome,
                        "message": str(report.longrepr)[-800:] if report.longrepr else ""})

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        self._line({"finished": True, "exitstatus": int(exitstatus), "collected": self.collected})


def run_pytest(payload: dict[str, Any], results: BinaryIO) -> None:
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    import pytest

    args = ["-q", "-p", "no:cacheprovider", "--noconftest", "-c", payload["ini"],
            "--rootdir", os.getcwd(), "-o", "addopts=", "-W", "ignore", payload["file"]]
    code = pytest.main(args, plugins=[_Reporter(results)])
    raise SystemExit(int(code))

