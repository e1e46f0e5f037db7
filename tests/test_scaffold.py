"""`harness new environment`: the package it writes installs with `pip install -e` (into a venv
of its own, see tests/user_venv.py), passes `harness check environment` and its own tests, and
every command of its README runs; a change that breaks the contract makes both fail."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.scaffold import ScaffoldError, names_for, new_environment, templates
from user_venv import make_user_venv

REPO = Path(__file__).resolve().parents[1]


def sh(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True)


def readme_commands(readme: str) -> list[str]:
    """The README's indented command lines, continuation lines joined."""
    commands, current = [], ""
    for line in readme.splitlines():
        if not line.startswith("    "):
            continue
        current += line.strip()
        if current.endswith("\\"):
            current = current[:-1] + " "
        else:
            commands.append(current)
            current = ""
    return commands


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A directory outside the repository, and a venv of its own with the harness in it."""
    work = tmp_path_factory.mktemp("user")
    return work, make_user_venv(tmp_path_factory.mktemp("venv") / "venv")


def test_from_new_to_a_checked_tested_plugin(user):
    work, env = user
    done = sh("harness new environment word-guess", work, env)
    assert done.returncode == 0, done.stderr
    package = work / "harness-word-guess"
    assert sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()) == [
        ".gitignore", "README.md", "harness_word_guess/__init__.py", "harness_word_guess/environment.py",
        "harness_word_guess/plugin.py", "pyproject.toml", "tests/test_environment.py"]
    assert "pip install -e 'harness-word-guess[test]'" in done.stderr
    assert 'word_guess = "harness_word_guess.plugin"' in (package / "pyproject.toml").read_text()

    commands = readme_commands((package / "README.md").read_text())
    assert [c.split()[0] for c in commands] == ["pip", "harness", "harness", "pytest", "harness"]
    outputs = []
    for command in commands:
        done = sh(command, work, env)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout + done.stderr)
    _, listed, checked, tested, _generated = outputs
    assert "harness-word-guess 0.1.0 (entry point word_guess)" in listed
    assert "environment  word-guess" in listed
    assert "word-guess 0.1.0 keeps the environment contract (12 rules" in checked
    assert "FAIL" not in checked and "note:" not in checked  # jsonschema (test extra) is there
    assert re.search(r"\b3 passed\b", tested)
    [shard] = (work / "runs" / "scripted").glob("shard-*.jsonl")
    [episode] = [json.loads(line) for line in shard.read_text().splitlines()]
    assert episode["outcome"] == {"done": True, "reason": "solved", "success": True}
    assert [s["status"]["label"] for s in episode["steps"]] == ["wrong", "correct"]
    assert episode["provenance"]["plugins"]["harness-word-guess"] == "0.1.0"

    # The install is editable: break a rule in the source, and the check and the tests say so.
    source = package / "harness_word_guess" / "environment.py"
    text = source.read_text()
    source.write_text(text.replace('"turns": len(self.steps),', ""))
    checked = sh("harness check environment word-guess", work, env)
    assert checked.returncode == 1 and "FAIL  state" in checked.stdout
    tested = sh("pytest harness-word-guess", work, env)
    assert tested.returncode == 1
    assert "FAIL  state" in tested.stdout and re.search(r"\b1 failed, 2 passed\b", tested.stdout)
    source.write_text(text)


def test_output_directory_and_a_name_that_needs_another_class_name(tmp_path):
    files = new_environment("session", tmp_path / "plugins" / "mine")
    root = tmp_path / "plugins" / "mine"
    assert root / "harness_session" / "environment.py" in files
    assert "class SessionGame(Environment):" in (root / "harness_session" / "environment.py").read_text()
    assert "from harness_session.environment import SessionGame" in (root / "harness_session" / "plugin.py").read_text()
    assert oct(root.stat().st_mode & 0o777) == oct(0o777 & ~_umask())
    done = subprocess.run(
        [sys.executable, "-m", "harness", "check", "environment", "harness_session.environment:SessionGame",
         "--max-tasks", "1", "--seeds-per-task", "1"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)}, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_an_empty_directory_is_used_a_full_one_left_alone(tmp_path):
    (tmp_path / "empty").mkdir()
    assert new_environment("tally", tmp_path / "empty")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match="already exists and is not an empty directory"):
        new_environment("tally", tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "full"]  # no staging left behind


@pytest.mark.parametrize("name", ["Word", "word_guess", "-word", "word-", "word--guess", "1word", ""])
def test_names_that_cannot_be_an_environment(name):
    with pytest.raises(ScaffoldError, match="cannot name an environment"):
        names_for(name)


def test_cli_errors_are_one_line(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("")
    for args, message in [(["Bad"], "'Bad' cannot name an environment"),
                          (["ok", "-o", "taken"], "taken already exists")]:
        done = subprocess.run([sys.executable, "-m", "harness", "new", "environment", *args],
                              capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_templates_ship_in_the_wheel():
    """maturin puts every file under python/harness/ into the wheel except what .gitignore
    ignores (a built wheel was checked to hold them); so no template may be ignored."""
    found = sorted(str(Path(str(t)).relative_to(REPO)) for t in Path(str(templates())).rglob("*.tmpl"))
    assert len(found) == 7
    done = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", "--verbose", *found],
                          capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == "", f"ignored, so left out of the wheel:\n{done.stdout}"
