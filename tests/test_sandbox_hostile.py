"""Hostile programs: none may pass, damage the host, leave a process behind or break the pool.

Each attack is written so that, if the sandbox let it through, the program would either pass or
leave a visible trace (a file, a connection, a process): a blocked attack raises, so the program
fails. Deadlines are short for the attacks (they are meant to hit them) and generous for the
health check that follows each one; conditions are polled, never timed.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from harness_code import HumanEvalVerifier, sandboxes

FIXTURES = Path(__file__).parent / "fixtures" / "code"
PROBLEMS = FIXTURES / "humaneval_small.jsonl"
CANONICAL = "def add(a, b):\n    return a + b\n"
SECRET = "s3cr3t-hostile-value"

CASES = {
    "infinite_loop": "def add(a, b):\n    while True:\n        pass\n",
    "loop_swallowing_exceptions": (
        "def add(a, b):\n    while True:\n        try:\n            while True:\n                pass\n"
        "        except BaseException:\n            pass\n"
    ),
    "c_level_loop": "import itertools\n\ndef add(a, b):\n    return sum(itertools.count()) + a + b\n",
    "c_level_regex": "import re\n\ndef add(a, b):\n    re.match(r'(a*)*b', 'a' * 64)\n    return a + b\n",
    "sleep": "import time\n\ndef add(a, b):\n    time.sleep(3600)\n    return a + b\n",
    "memory_hog": (
        "def add(a, b):\n    blocks = []\n    while True:\n"
        "        blocks.append(bytearray(64 * 1024 * 1024))\n"
    ),
    "fork_bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    "huge_output": "def add(a, b):\n    while True:\n        print('x' * 65536)\n",
    "write_outside_tmp": "open('{base}/pwned', 'w').write('x')\n" + CANONICAL,
    "delete_outside_tmp": "import os\nos.remove('{base}/sentinel')\n" + CANONICAL,
    "connect_loopback": (
        "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'hi')\n"
        + CANONICAL
    ),
    "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + CANONICAL,
    # kill(-1) spares its caller, so this program lives on: it must have killed nothing else.
    "kill_everything": "import os, signal\nos.kill(-1, signal.SIGKILL)\n\ndef add(a, b):\n    return 0\n",
    "os_exit_zero_before_tests": "import os\nos._exit(0)\n" + CANONICAL,
    "sys_exit_zero_before_tests": "import sys\nsys.exit(0)\n" + CANONICAL,
    "os_exit_zero_in_function": "import os\n\ndef add(a, b):\n    os._exit(0)\n",
    "sys_exit_zero_in_function": "import sys\n\ndef add(a, b):\n    sys.exit(0)\n",
    "eq_always_true": (
        "class Anything:\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = object.__hash__\n\ndef add(a, b):\n    return Anything()\n"
    ),
    "int_subclass_eq_always_true": (
        "class Liar(int):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\n\ndef add(a, b):\n    return Liar(0)\n"
    ),
    "frame_walk_drops_the_calls": (
        "import sys\nframe = sys._getframe()\nwhile frame is not None:\n"
        "    payload = frame.f_locals.get('payload')\n"
        "    if isinstance(payload, dict) and 'calls' in payload:\n"
        "        payload['calls'].clear()\n    frame = frame.f_back\n"
        "def add(a, b):\n    return 0\n"
    ),
    "frame_walk_forges_outcomes": (
        "import sys\n\ndef add(a, b):\n    frame = sys._getframe()\n    while frame is not None:\n"
        "        outcomes = frame.f_locals.get('outcomes')\n"
        "        if isinstance(outcomes, list):\n"
        "            outcomes.extend([{'value': True}] * 8)\n"
        "        frame = frame.f_back\n    return True\n"
    ),
    "forged_results_channel": (
        "import os, json\nos.write(3, json.dumps({'outcomes': [{'value': True}] * 4}).encode())\n"
        "os._exit(0)\n"
    ),
    "printed_passed": "print('PASSED')\nprint('4 passed in 0.01s')\n\ndef add(a, b):\n    return 0\n",
    "read_the_tests": (
        "import gc, os\nfound = []\n"
        "def look(obj, depth=0):\n    if isinstance(obj, str):\n"
        "        if 'candidate(' in obj or '== 3' in obj:\n            found.append(obj[:200])\n"
        "    elif depth < 3 and isinstance(obj, (list, tuple, dict)):\n"
        "        for item in (obj.values() if isinstance(obj, dict) else obj):\n"
        "            look(item, depth + 1)\n"
        "for obj in gc.get_objects():\n    look(obj)\n"
        "for root, dirs, files in os.walk('/tmp'):\n    for name in files:\n"
        "        try:\n            found.append(open(os.path.join(root, name)).read()[:200])\n"
        "        except OSError:\n            pass\n"
        "def add(a, b):\n    raise ValueError('FOUND:' + repr(found))\n"
    ),
    "double_fork_daemon": (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        time.sleep(3600)\n    os._exit(0)\n\ndef add(a, b):\n    return a - b\n"
    ),
    "shadow_stdlib_in_working_dir": (
        "for name in ('json', 'random', 'ast', 'collections'):\n"
        "    open(name + '.py', 'w').write('raise SystemExit(0)\\n')\n"
        "import importlib\nimportlib.invalidate_caches()\n\ndef add(a, b):\n    return 0\n"
    ),
    "segfault": "import ctypes\nctypes.string_at(0)\n" + CANONICAL,
    "environment_secrets": (
        "import os\nseen = repr(dict(os.environ))\nfor pid in os.listdir('/proc'):\n"
        "    if pid.isdigit():\n        try:\n"
        "            seen += open('/proc/' + pid + '/environ', 'rb').read().decode('latin-1')\n"
        "        except OSError:\n            pass\n"
        "def add(a, b):\n    raise ValueError('SEEN:' + seen)\n"
    ),
    "recursion_bomb": "def add(a, b):\n    return add(a, b)\n",
    "close_results_channel": "import os\nos.close(3)\n" + CANONICAL,
}


@pytest.fixture(scope="module")
def attacked() -> HumanEvalVerifier:
    return HumanEvalVerifier(PROBLEMS, timeout=3.0)


@pytest.fixture(scope="module")
def checker() -> HumanEvalVerifier:
    return HumanEvalVerifier(PROBLEMS, timeout=120.0)


def sandbox_uids() -> set[int]:
    return {uid for box in sandboxes._sandboxes.values() for uid in box._uids}


def processes_of(uids: set[int]) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if fields.get("State", "").strip().startswith("Z"):
                continue
            if int(fields["Uid"].split()[0]) in uids:
                found.append(int(entry))
    return found


def wait_until(condition, what: str, limit: float = 120.0) -> None:
    """Poll `condition` (a loaded machine may need a moment to reap); fail with `what`."""
    end = time.monotonic() + limit
    while not condition():
        if time.monotonic() > end:
            pytest.fail(what)
        time.sleep(0.05)


def assert_host_unharmed(host_dir: Path, listener: socket.socket, checker: HumanEvalVerifier) -> None:
    assert (host_dir / "sentinel").read_text() == "intact"
    assert sorted(p.name for p in host_dir.iterdir()) == ["sentinel"]
    with pytest.raises(BlockingIOError):
        listener.accept()
    uids = sandbox_uids()
    wait_until(lambda: not processes_of(uids), f"sandbox processes survive: {processes_of(uids)}")
    healthy = checker.verify(CANONICAL, "Fixture/0")
    assert healthy.verdict == "pass", healthy


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_program_fails_and_leaves_no_trace(case, attacked, checker, host_dir, listener, monkeypatch):
    monkeypatch.setenv("HARNESS_HOSTILE_SECRET", SECRET)
    code = CASES[case].replace("{base}", str(host_dir)).replace(
        "{port}", str(listener.getsockname()[1])
    )
    result = attacked.verify(code, "Fixture/0")
    assert result.verdict == "fail", result
    assert result.reward == 0.0
    evidence = f"{result.error} {result.details.get('stdout')} {result.details.get('stderr')}"
    assert SECRET not in evidence
    assert "candidate(1, 2)" not in evidence
    assert_host_unharmed(host_dir, listener, checker)


STRICT_CASES = ["fork_bomb", "double_fork_daemon", "write_outside_tmp", "connect_loopback",
                "forged_results_channel", "infinite_loop"]


@pytest.mark.parametrize("case", STRICT_CASES)
def test_hostile_program_fails_at_strict_level(case, checker, host_dir, listener):
    strict = HumanEvalVerifier(PROBLEMS, timeout=3.0, isolation="strict", workers=1)
    code = CASES[case].replace("{base}", str(host_dir)).replace(
        "{port}", str(listener.getsockname()[1])
    )
    result = strict.verify(code, "Fixture/0")
    assert result.verdict == "fail", result
    assert result.details["isolation"] == "strict"
    assert_host_unharmed(host_dir, listener, checker)


def test_the_attacks_would_pass_without_their_attack(checker):
    """Control: the same verifier passes the honest program the attacks are built around, and
    fails an honest wrong answer, so a fail above is the sandbox's doing."""
    assert checker.verify(CANONICAL, "Fixture/0").verdict == "pass"
    assert checker.verify("def add(a, b):\n    return a - b\n", "Fixture/0").verdict == "fail"
