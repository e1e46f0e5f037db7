"""The `luigi` command exits non-zero when a pipeline fails, from any working directory: real
`luigi --module luigi_tasks.… --local-scheduler` runs in a temporary directory, in the
repository root (its luigi.cfg) and beside a user's own luigi.cfg."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from luigi_tasks import RETCODES

REPO = Path(__file__).resolve().parents[1]
LUIGI = os.path.join(os.path.dirname(sys.executable), "luigi")


def luigi_dedup(cwd: Path, inputs: list[Path], output: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LUIGI_CONFIG_PATH"}
    return subprocess.run(
        [LUIGI, "--module", "luigi_tasks.jsonl", "DedupRollouts", "--local-scheduler",
         "--inputs", json.dumps([str(p) for p in inputs]), "--output-path", str(output),
         "--key", "/task/id", "--keep", "first"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A working directory outside the repository, holding no luigi.cfg."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (tmp_path / "good.jsonl").write_text('{"task":{"id":1}}\n{"task":{"id":1}}\n')
    (tmp_path / "bad.jsonl").write_text('{"task":{"id":1}}\n{"task": oops}\n')
    return tmp_path


def test_a_successful_run_exits_0(work):
    done = luigi_dedup(work / "cwd", [work / "good.jsonl"], work / "best.jsonl")
    assert done.returncode == 0, done.stderr
    assert (work / "best.jsonl").read_text() == '{"task":{"id":1}}\n'


def test_a_failed_task_exits_with_task_failed(work):
    done = luigi_dedup(work / "cwd", [work / "bad.jsonl"], work / "best.jsonl")
    assert done.returncode == RETCODES["task_failed"] == 30, done.stderr
    assert "bad.jsonl:2:" in done.stderr  # Luigi logs the task's error
    assert not (work / "best.jsonl").exists()


def test_a_missing_input_exits_with_missing_data(work):
    done = luigi_dedup(work / "cwd", [work / "no-such.jsonl"], work / "best.jsonl")
    assert done.returncode == RETCODES["missing_data"] == 20, done.stderr


def test_the_repository_luigi_cfg_gives_the_same_codes(work):
    shipped = configparser.ConfigParser()
    shipped.read(REPO / "luigi.cfg")
    assert {k: int(v) for k, v in shipped["retcode"].items()} == RETCODES
    done = luigi_dedup(REPO, [work / "bad.jsonl"], work / "best.jsonl")
    assert done.returncode == RETCODES["task_failed"], done.stderr


def test_a_users_own_retcode_wins(work):
    (work / "cwd" / "luigi.cfg").write_text("[retcode]\ntask_failed = 7\n")
    done = luigi_dedup(work / "cwd", [work / "bad.jsonl"], work / "best.jsonl")
    assert done.returncode == 7, done.stderr
    # The options the user left unset keep the harness's values.
    done = luigi_dedup(work / "cwd", [work / "no-such.jsonl"], work / "best.jsonl")
    assert done.returncode == RETCODES["missing_data"], done.stderr


def test_the_shipped_configuration_uses_no_deprecated_option():
    # Luigi warns on [core] default-scheduler-host/port and on range tasks loaded by default.
    code = ("import warnings; warnings.simplefilter('always')\n"
            "import luigi, luigi.interface\n"
            "core = luigi.interface.core()\n"
            "print(core.scheduler_host, core.scheduler_port)\n")
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(REPO / "luigi.cfg")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["localhost", "8082"]
    assert "deprecated" not in proc.stderr.lower(), proc.stderr
