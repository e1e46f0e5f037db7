"""Running a seed pipeline the way a user does, for the tests/test_pipeline_*.py tests: the real
`luigi --module … --local-scheduler` command in a subprocess, from a working directory outside the
repository, and the pipeline's summary read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def luigi(cwd: Path, module: str, task: str, *args: str, env: dict[str, str] | None = None,
          timeout: float = 900) -> subprocess.CompletedProcess:
    """`luigi --module MODULE TASK --local-scheduler ARGS…` in `cwd` (its output captured), with
    `env` added to this process's environment; a run past `timeout` seconds fails the test."""
    return subprocess.run([sys.executable, "-m", "luigi", "--module", module, task, "--local-scheduler", *args],
                          cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})},
                          timeout=timeout)


def ok(done: subprocess.CompletedProcess) -> str:
    """The run's stdout, after checking that it succeeded."""
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return done.stdout


def summary(stdout: str) -> dict:
    """The pipeline's manifest, found where the run said it is: stage -> its entry."""
    [line] = [line for line in stdout.splitlines() if line.startswith("this summary: ")]
    manifest = json.loads(Path(line.removeprefix("this summary: ")).read_text(encoding="utf-8"))
    return {entry["stage"]: entry for entry in manifest["stages"]}


def read_jsonl(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
