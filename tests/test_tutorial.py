"""docs/tutorial.md runs as written, so it cannot rot: every ```bash and ```python block in
order, in an empty directory, in a venv of its own where `pip install -e` installs the new
plugin (tests/user_venv.py). A ```python block whose first line is `# PATH` is written to PATH;
a ```text block lists lines the output of the block before it must contain ("..." skips)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from user_venv import make_user_venv

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
FILE = re.compile(r"# ([\w./-]+\.py)\n")


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(TUTORIAL.read_text(encoding="utf-8"))]


def test_the_tutorial_covers_every_step():
    code = "\n".join(text for kind, text in blocks() if kind == "bash")
    for command in ["harness new environment word-guess", "pip install -e", "harness check environment",
                    "pytest", "--backend scripted", "--backend transformers", "harness format run"]:
        assert command in code, f"the tutorial no longer runs {command!r}"
    files = [FILE.match(text).group(1) for kind, text in blocks() if kind == "python" and FILE.match(text)]
    assert files == ["harness-word-guess/harness_word_guess/environment.py",
                     "harness-word-guess/tests/test_environment.py"]


def test_the_tutorial_runs_as_written(tmp_path, embedded_gguf):
    env = make_user_venv(tmp_path / "venv")
    work = tmp_path / "work"
    work.mkdir()
    output: str | None = None
    for number, (kind, text) in enumerate(blocks(), 1):
        where = f"docs/tutorial.md block {number} ({kind})"
        if kind == "python" and FILE.match(text):
            path = work / FILE.match(text).group(1)
            assert path.parent.is_dir(), f"{where}: {path.parent} does not exist yet"
            path.write_text(text, encoding="utf-8")
            output = None
        elif kind in ("python", "bash"):
            command = ["python", "-c", text] if kind == "python" else ["bash", "-euo", "pipefail", "-c", text]
            done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=900)
            output = done.stdout + done.stderr
            assert done.returncode == 0, f"{where} exited {done.returncode}:\n{text}\n--- output:\n{output}"
        elif kind == "text":
            assert output is not None, f"{where}: expected output after a block that runs nothing"
            for line in text.splitlines():
                if line.strip() and line.strip() != "...":
                    assert line in output, f"{where}: {line!r} is not in the output:\n{output}"
        else:
            pytest.fail(f"{where}: a ```{kind} block is neither run nor checked; use bash, python or text")
