"""The example third-party plugin (examples/guess-number), pip-installed into a directory of its
own, passes `harness check environment` as a user would run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "guess-number"


def test_the_example_plugin_keeps_the_environment_contract(tmp_path):
    target, source = tmp_path / "site", tmp_path / "src" / "guess-number"
    shutil.copytree(EXAMPLE, source)  # setuptools builds inside the source tree: keep the checkout clean
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("HARNESS_PLUGINS", "HARNESS_PLUGINS_BLOCK")}
    env["PYTHONPATH"] = str(target)
    done = subprocess.run([sys.executable, "-m", "harness", "check", "environment", "guess-number",
                           "--env-arg", "max_turns=8", "--json"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    report = json.loads(done.stdout)
    assert done.returncode == 0, "\n".join(f["message"] for f in report["failures"])
    assert report["ok"] is True and report["env"] == "guess-number" and report["args"] == {"max_turns": 8}
    assert report["tasks"] == ["train-10", "test-10", "train-100"] and report["episodes"] == 9
    assert "guess-number 1.0.0 keeps the environment contract" in done.stderr


@pytest.mark.parametrize("name", ["connections", "search", "data-analysis", "code"])
def test_every_first_party_environment_keeps_the_contract(name):
    from harness.conformance import check_environment

    report = check_environment(name, max_tasks=1, seeds_per_task=1)
    assert report.ok, "\n".join(f.message for f in report.failures)
