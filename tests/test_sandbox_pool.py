"""harness.sandbox on its own: levels, limits, output caps, deadlines, failures, refusal."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.sandbox import (
    IsolationLevel,
    Limits,
    Sandbox,
    SandboxSetupError,
    SandboxUnavailable,
    detect,
)

SCRIPT = "harness.sandbox.scripts:run_script"
GENEROUS = Limits(wall_seconds=120.0, cpu_seconds=120)


@pytest.fixture(scope="module")
def box():
    with Sandbox(workers=2, preload=["harness.sandbox.scripts"], limits=GENEROUS) as sandbox:
        yield sandbox


def run(sandbox: Sandbox, code: str, **limits):
    return sandbox.run(SCRIPT, {"code": code}, limits=sandbox.limits.with_(**limits))


def test_machine_allows_the_default_level():
    caps = detect()
    assert caps.best >= IsolationLevel.NAMESPACES, caps.notes
    assert caps.bwrap_works


def test_isolation_facts_inside_a_sample(box):
    code = (
        "import json, os, socket, sys\n"
        "facts = {'uid': os.getuid(), 'cwd': os.getcwd(), 'env': dict(os.environ),\n"
        "         'stdin': sys.stdin.read(), 'tmp': os.listdir('/tmp')}\n"
        "try:\n    open('/etc/harness-sandbox-probe', 'w')\n    facts['root_fs'] = 'writable'\n"
        "except OSError as exc:\n    facts['root_fs'] = exc.errno\n"
        "open('own-file', 'w').write('mine')\nfacts['own_file'] = open('own-file').read()\n"
        "facts['interfaces'] = [name for _, name in socket.if_nameindex()]\n"
        "print(json.dumps(facts))\n"
    )
    result = run(box, code)
    assert result.status == "exited" and result.exit_code == 0, result
    facts = json.loads(result.stdout)
    assert facts["uid"] != 0 and facts["uid"] != os.getuid()
    assert facts["cwd"].startswith("/tmp/sample-")
    # no other sample's directory (a checkout under /tmp is bound back read-only beside it)
    assert [d for d in facts["tmp"] if d.startswith("sample-")] == [os.path.basename(facts["cwd"])]
    assert facts["stdin"] == ""
    assert facts["root_fs"] == 30  # EROFS: a read-only view of the host
    assert facts["own_file"] == "mine"
    assert facts["interfaces"] == ["lo"]  # its own network namespace
    assert set(facts["env"]) == {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONHASHSEED"}
    assert facts["env"]["HOME"] == facts["env"]["TMPDIR"] == facts["cwd"]


def test_samples_share_nothing_through_the_worker(box):
    # Each sample is a fork of the same worker: what one sample changes in its memory, its
    # environment or its streams is gone for the next, and every sample, whichever worker runs
    # it, starts from the same `random` state.
    code = ("import os, random, sys\nprint(random.random(), os.environ.get('LEAK'), sys.argv)\n"
            "os.environ['LEAK'] = 'yes'\nsys.argv.append('x')\nrandom.seed(99)\n"
            "sys.stdout.write('unflushed')\n")
    first, second, third = run(box, code), run(box, code), run(box, code)
    assert first.stdout == second.stdout == third.stdout
    assert first.stdout.split()[1] == "None"
    assert first.stdout.endswith("unflushed")  # flushed at exit, into this sample's pipe only


def test_output_that_is_not_utf8_is_escaped(box):
    result = run(box, "print('\\udc80 and \\xe9')")
    assert result.status == "exited" and result.exit_code == 0, result
    assert result.stdout == "\\udc80 and \xe9\n"


def test_a_worker_refuses_to_fork_with_threads_running(tmp_path, monkeypatch):
    (tmp_path / "threaded_preload.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with Sandbox(workers=1, preload=["harness.sandbox.scripts", "threaded_preload"],
                 limits=GENEROUS) as sandbox:
        for _ in range(2):  # the same error every time, without starting a worker again
            with pytest.raises(SandboxSetupError, match="must be single-threaded"):
                run(sandbox, "print(1)")


def test_exit_codes_signals_and_results_channel(box):
    assert run(box, "raise SystemExit(3)").exit_code == 3
    crashed = run(box, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
    assert (crashed.status, crashed.signal) == ("signaled", 11)
    written = run(box, "import os\nos.write(3, b'payload')\nprint('out')")
    assert (written.result, written.stdout) == (b"payload", "out\n")
    failing = run(box, "raise ValueError('boom')")
    assert failing.exit_code == 1 and "ValueError: boom" in failing.stderr


def live_processes_of(uid: int) -> list[int]:
    """Host pids of the processes running as `uid` (zombies aside)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(status["Uid"].split()[0]) == uid and not status["State"].strip().startswith("Z"):
            found.append(int(entry))
    return found


def test_wall_clock_deadline_kills_the_whole_group(box):
    code = ("import os, time\nos.write(1, str(os.getuid()).encode())\n"
            "for _ in range(3):\n    os.fork()\ntime.sleep(3600)\n")
    result = run(box, code, wall_seconds=2.0)
    assert result.status == "timeout"
    uid = int(result.stdout)
    assert uid != os.getuid()
    assert live_processes_of(uid) == []  # all 8 processes were killed and reaped before the reply
    assert run(box, "print('next')").stdout == "next\n"


def test_daemons_left_behind_are_killed_and_counted(box):
    code = ("import os, time\nos.write(1, str(os.getuid()).encode())\n"
            "middle = os.fork()\nif middle == 0:\n    os.setsid()\n"
            "    if os.fork() == 0:\n        time.sleep(3600)\n    os._exit(0)\n"
            "os.waitpid(middle, 0)\n")
    result = run(box, code)
    assert (result.status, result.exit_code) == ("exited", 0), result
    assert result.survivors_killed >= 1
    assert live_processes_of(int(result.stdout)) == []


def test_output_is_capped_and_drained(box):
    result = run(box, "import sys\nsys.stdout.write('a' * 1_000_000)\nsys.stderr.write('b' * 10)",
                 output_bytes=1000)
    assert result.status == "exited"
    assert result.stdout == "a" * 1000 and result.stdout_bytes == 1_000_000
    assert result.stderr == "b" * 10
    flooded = run(box, "while True:\n    print('x' * 4096)", output_kill_bytes=1 << 20)
    assert flooded.status == "output_limit"


def test_memory_file_size_and_process_limits(box):
    memory = run(box, "x = bytearray(600 * 1024 * 1024)", memory_bytes=256 << 20)
    assert memory.exit_code == 1 and "MemoryError" in memory.stderr
    big = run(box, "open('f', 'wb').write(b'x' * 2_000_000)", file_size_bytes=1 << 20)
    assert big.status == "signaled" or "File too large" in big.stderr
    forks = run(box, "import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
                     "            import time; time.sleep(60)\n        n += 1\n"
                     "except OSError:\n    print(n)\n", processes=8)
    assert forks.status == "exited" and int(forks.stdout) < 8
    files = run(box, "fs = []\ntry:\n    while True:\n        fs.append(open('/dev/null'))\n"
                     "except OSError:\n    print(len(fs))\n", open_files=16)
    assert int(files.stdout) < 16


def test_a_dead_worker_is_an_infrastructure_failure_then_replaced():
    with Sandbox(workers=1, preload=["harness.sandbox.scripts"], limits=GENEROUS) as sandbox:
        sandbox.warm_up()
        (pid,) = sandbox.worker_pids()
        os.kill(pid, 9)
        failed = run(sandbox, "print(1)")
        assert failed.status == "error" and failed.infrastructure_failure
        assert failed.error
        assert run(sandbox, "print(2)").stdout == "2\n"


def test_refuses_below_the_configured_minimum(monkeypatch):
    with pytest.raises(SandboxUnavailable, match="refusing to run untrusted code"):
        Sandbox("process", minimum="namespaces")
    monkeypatch.setenv("HARNESS_SANDBOX_MINIMUM", "strict")
    with pytest.raises(SandboxUnavailable, match="minimum is 'strict'"):
        Sandbox("namespaces")
    with Sandbox(workers=1) as sandbox:  # without a level asked for, the minimum is used
        assert sandbox.level is IsolationLevel.STRICT
    with pytest.raises(ValueError, match="unknown isolation level"):
        Sandbox("bogus")


@pytest.mark.parametrize("level", ["none", "process", "strict"])
def test_other_levels_run_samples(level):
    with Sandbox(level, minimum="none", workers=1, preload=["harness.sandbox.scripts"],
                 limits=GENEROUS) as sandbox:
        result = run(sandbox, "import os\nprint(os.getuid())")
        assert result.status == "exited" and result.level == level
        assert (int(result.stdout) == 0) == (level == "none")
        assert run(sandbox, "print('again')").stdout == "again\n"


def test_cli_check_reports_the_level():
    result = CliRunner().invoke(cli, ["sandbox", "check", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["active"] == "namespaces" and report["ok"]
    strict = CliRunner().invoke(cli, ["sandbox", "check", "--minimum", "strict", "--json"])
    assert strict.exit_code == 0, strict.output  # strict is available: it becomes the default
    assert json.loads(strict.output)["active"] == "strict"
    text = CliRunner().invoke(cli, ["sandbox", "check"])
    assert "isolation level: namespaces" in text.output


def test_cli_run_executes_a_file(tmp_path):
    script = tmp_path / "hello.py"
    script.write_text("import os\nprint('hello from', os.getcwd())\n")
    result = CliRunner().invoke(cli, ["sandbox", "run", str(script)])
    assert result.exit_code == 0, result.output
    assert "hello from /tmp/sample-" in result.output


def test_samples_still_fork_after_an_inline_run_started_a_thread(tmp_path, monkeypatch):
    (tmp_path / "threading_entry.py").write_text(
        "import threading, time\n"
        "def start(payload, results):\n"
        "    threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"
        "    results.write(str(threading.active_count()).encode())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with Sandbox(workers=1, preload=["harness.sandbox.scripts", "threading_entry"],
                 limits=GENEROUS) as sandbox:
        started = sandbox.run("threading_entry:start", None, fork=False)
        assert started.status == "exited" and started.result == b"2", started
        for _ in range(3):
            assert run(sandbox, "print('forked')").stdout == "forked\n"
