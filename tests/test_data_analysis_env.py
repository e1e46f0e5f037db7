"""The data-analysis environment played by scripted policies, through real interpreter processes."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from data_analysis_episodes import episode_of, play
from harness import plugins
from harness.environment import EnvError
from harness.episode import validate_episode
from harness_data_analysis.datasets import load_frame, resolve_source
from harness_data_analysis.environment import DataAnalysisEnvironment
from harness_data_analysis.interpreter import RUN_LIMITS, Interpreter, SessionLimits


def fenced(code: str, reasoning: str = "Let me compute it.") -> str:
    return f"{reasoning}\n\n```python\n{code}\n```"


def alive(pid: int) -> bool:
    """True while a process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@pytest.fixture(scope="module")
def env() -> DataAnalysisEnvironment:
    return DataAnalysisEnvironment(csvs=["iris"], exec_timeout_s=60, memory_mb=1024)


def test_registered_through_the_plugin_registry():
    registry = plugins.load()
    assert registry.get("environment", "data-analysis") is DataAnalysisEnvironment
    assert "harness-data-analysis" in registry.versions()
    assert not [f for f in registry.failures if f.distribution == "harness-data-analysis"]


def test_tasks_are_split_and_carry_the_seed_question(env):
    train, test = list(env.tasks("train")), list(env.tasks("test"))
    assert train and test
    assert {t.id for t in train}.isdisjoint(t.id for t in test)
    task = env.task("iris-group_mean-00")
    assert task.data["csv_source"] == "sklearn/datasets/data/iris.csv"
    assert task.data["question"]["id"] == task.id
    assert "gold_program" in task.data
    with pytest.raises(EnvError, match="no split"):
        env.tasks("validation")


def test_bad_arguments_are_named():
    with pytest.raises(EnvError, match=r"unknown argument.*max_turn"):
        DataAnalysisEnvironment(max_turn=3)
    with pytest.raises(EnvError, match="hint"):
        DataAnalysisEnvironment(hint="no")
    with pytest.raises(EnvError, match=r"unknown template.*nope"):
        DataAnalysisEnvironment(templates=["nope"])


@pytest.mark.parametrize(
    "template",
    ["column_mean", "count_above", "group_mean", "group_argmax", "argmax_lookup", "top_values",
     "strongest_correlation", "outlier_count"],
)  # fmt: skip
def test_the_gold_program_as_the_action_earns_reward_1(env, template):
    task = env.task(f"iris-{template}-00")
    session = play(env, task, seed=0, actions=[fenced(task.data["gold_program"])])
    step = session.steps[0]
    assert step.done and step.status.label == "submitted" and step.reward == 1.0
    summary = session.summary()
    assert summary.reward == 1.0
    assert summary.outcome.reason == "submitted" and summary.outcome.success is True
    assert summary.reward_components == {"answer_correct": 1.0, "hash_match": 1.0, "submitted": 1.0}
    assert summary.info["final_answer_hash"] == task.data["question"]["ground_truth_hash"]
    execution = step.info["execution"]
    assert execution["submitted_answer"] == task.data["question"]["ground_truth"]
    assert execution["hooks"], "every gold program hooks an intermediate value"
    validate_episode(json.loads(episode_of(session).to_json_line()))


def test_a_multi_turn_episode_keeps_state_and_records_the_seed_turn_shape(env):
    task = env.task("iris-group_mean-00")
    params = task.data["question"]["template_params"]
    session = play(
        env,
        task,
        seed=0,
        actions=[
            fenced("cols = list(df.columns)\nprint(len(cols))", "How many columns?"),
            fenced(
                f"by_group = df.groupby({params['group_col']!r})[{params['col']!r}].mean()\n"
                'hook(by_group, name="group_means", description="raw means")\n'
                "rounded = by_group.round(3)\n"
                'hook(rounded, name="rounded")\n'
                "rounded"
            ),
            fenced("submit(rounded.to_dict())", "Submitting the rounded means."),
        ],
    )
    assert [s.status.label for s in session.steps] == ["executed", "executed", "submitted"]
    assert session.steps[0].observation[0].content == "[stdout]:\n5\n"
    assert session.steps[1].observation[0].content.startswith("[stdout]:\n")  # a shown expression
    assert session.steps[2].observation == []
    turn = session.steps[1].info
    assert set(turn) == {"turn_index", "reasoning", "code", "execution", "elapsed_s"}
    assert turn["turn_index"] == 1 and turn["reasoning"] == "Let me compute it."
    hooks = turn["execution"]["hooks"]
    assert [h["variable_name"] for h in hooks] == ["group_means", "rounded"]
    assert hooks[0]["code_line"].startswith("by_group = df.groupby(")
    assert hooks[0]["description"] == "raw means"
    assert hooks[1]["code_line"] == "rounded = by_group.round(3)"
    assert hooks[1]["depends_on"] == ["group_means"]
    assert set(hooks[0]) == {
        "variable_name", "code_line", "value", "value_hash", "depends_on", "description",
    }  # fmt: skip
    assert session.summary().reward == 1.0


def test_a_wrong_answer_ends_the_episode_with_reward_0(env):
    task = env.task("iris-column_mean-00")
    session = play(env, task, seed=0, actions=[fenced("submit(-1)")])
    summary = session.summary()
    assert summary.reward == 0.0 and summary.outcome.success is False
    assert summary.outcome.reason == "submitted"
    assert summary.reward_components["submitted"] == 1.0
    assert summary.reward_components["answer_correct"] == 0.0


def test_a_rounding_difference_within_the_tolerance_still_earns_the_reward(env):
    task = env.task("iris-column_mean-00")
    col = task.data["question"]["template_params"]["col"]
    session = play(env, task, seed=0, actions=[fenced(f"submit(df[{col!r}].mean())")])
    components = session.summary().reward_components
    assert components == {"answer_correct": 1.0, "hash_match": 0.0, "submitted": 1.0}


def test_an_exception_is_a_valid_step_with_the_traceback(env):
    task = env.task("iris-column_mean-00")
    session = play(env, task, seed=0, actions=[fenced("x = 1\ny = x / 0"), fenced("print(x)")])
    first, second = session.steps
    assert first.status.valid and first.status.label == "execution_error" and not first.done
    assert first.info["execution"]["success"] is False
    text = first.observation[0].content
    assert text.startswith("[stderr]:\nTraceback") and "ZeroDivisionError" in text
    assert 'File "<turn 0>", line 2' in text and "worker.py" not in text
    assert second.observation[0].content == "[stdout]:\n1\n"  # state before the error survives


def test_syntax_errors_and_sys_exit_do_not_end_the_session(env):
    task = env.task("iris-column_mean-00")
    actions = [fenced("def f(:"), fenced("raise SystemExit(3)"), fenced("1 + 1")]
    session = play(env, task, seed=0, actions=actions)
    assert "SyntaxError" in session.steps[0].observation[0].content
    assert "SystemExit" in session.steps[1].observation[0].content
    assert session.steps[2].observation[0].content == "[stdout]:\n2\n"


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        ("I think the answer is 5.", "no_code_block"),
        ("\x00\x01 garbage ¿¿ ```` ``` ~~~", "no_code_block"),
        ("Here:\n```python\nprint(1)\n", "unterminated_code_block"),
        ("```python\n\n```", "empty_code_block"),
        ("```bash\nls\n```", "no_code_block"),
        ("x" * 100_000, "action_too_long"),
        ("```python\n" + "print(1)\n" * 12_000 + "```", "action_too_long"),
        ("😀 données 漢字 " * 50, "no_code_block"),
    ],
)
def test_bad_messages_are_invalid_steps(env, action, reason):
    task = env.task("iris-column_mean-00")
    session = play(env, task, seed=0, actions=[action])
    step = session.steps[0]
    assert not step.status.valid and step.status.reason == reason and step.status.label == "invalid"
    assert not step.done and step.observation[0].role == "user"
    assert session.state()["turn_count"] == 0


def test_max_turns_ends_the_episode_with_reward_0():
    env = DataAnalysisEnvironment(csvs=["iris"], max_turns=2, memory_mb=1024)
    task = env.task("iris-column_mean-00")
    session = play(env, task, seed=0, actions=[fenced("a = 1"), "no code"])
    assert session.done and session.end_reason == "max_turns_reached"
    assert session.steps[-1].done and session.steps[-1].reward == 0.0
    assert session.summary().outcome.success is False


def test_hint_is_shown_unless_disabled():
    with_hint = DataAnalysisEnvironment(csvs=["iris"])
    without = DataAnalysisEnvironment(csvs=["iris"], hint=False)
    task = with_hint.task("iris-group_mean-00")
    hint = task.data["question"]["hint"]
    assert with_hint.prompt(task)[1].content.endswith(f"\n\nHint: {hint}")
    assert without.prompt(task)[1].content == task.data["question"]["question_text"]
    system = with_hint.prompt(task)[0].content
    assert "sklearn/datasets/data/iris.csv" in system and "submit(answer)" in system
    assert 'hook(value, name="...")' in system


def test_an_infinite_loop_is_stopped_by_the_deadline_and_the_session_goes_on():
    env = DataAnalysisEnvironment(csvs=["iris"], exec_timeout_s=3, cpu_s=120, memory_mb=1024)
    task = env.task("iris-column_mean-00")
    session = env.start(task, seed=0)
    try:
        session.step(fenced("a = 41"))
        first_pid = session.interpreter.pid
        looping = session.step(fenced("import time\nwhile True:\n    time.sleep(0.01)"))
        assert looping.status.valid and looping.status.label == "execution_error"
        assert looping.status.reason == "timeout" and not looping.done
        assert "TimeoutError" in looping.observation[0].content
        assert "restarted" in looping.observation[0].content
        assert not alive(first_pid)
        final = session.step(fenced("submit(a + 1)"))
        assert final.info["execution"]["submitted_answer"] == 42  # `a` was restored
        assert session.summary().info["interpreter_restarts"] == 1
    finally:
        session.close()


def test_the_cpu_limit_stops_a_busy_loop():
    env = DataAnalysisEnvironment(csvs=["iris"], exec_timeout_s=120, cpu_s=1, memory_mb=1024)
    task = env.task("iris-column_mean-00")
    actions = [fenced("while True:\n    pass"), fenced("print('ok')")]
    session = play(env, task, seed=0, actions=actions)
    assert session.steps[0].status.reason == "cpu_limit"
    assert "CPU time" in session.steps[0].observation[0].content
    assert session.steps[1].observation[0].content == "[stdout]:\nok\n"


def test_a_memory_hog_gets_a_memory_error_and_the_session_goes_on(env):
    task = env.task("iris-column_mean-00")
    session = play(
        env,
        task,
        seed=0,
        actions=[
            fenced("x = bytearray(3 * 1024**3)"),
            fenced("chunks = []\nfor _ in range(100):\n    chunks.append(bytearray(50 * 1024**2))"),
            fenced("del chunks\nprint(len(df))"),
        ],
    )
    assert "MemoryError" in session.steps[0].observation[0].content
    assert "MemoryError" in session.steps[1].observation[0].content
    assert session.steps[2].observation[0].content == "[stdout]:\n150\n"


def test_when_replay_after_a_kill_fails_the_episode_ends_with_a_clear_reason():
    # The sandbox sees no host file but the CSV it loads: a copy of iris, readable by its uid.
    base = Path(tempfile.mkdtemp(prefix="harness-data-analysis-"))
    base.chmod(0o755)
    csv = base / "iris.csv"
    load_frame(resolve_source("iris")).to_csv(csv, index=False)
    env = DataAnalysisEnvironment(csvs=[str(csv)], exec_timeout_s=3, cpu_s=120, memory_mb=1024)
    task = env.task("iris-column_mean-00")
    # The first cell behaves differently the second time it runs: the row the test appends to
    # the CSV in between (in place: the sandbox sees the same file) makes it loop forever.
    first = f"import time\nwhile len(open({str(csv)!r}).readlines()) > 151:\n    time.sleep(0.01)"
    session = env.start(task, seed=0)
    try:
        session.step(fenced(first))
        with csv.open("a") as f:
            f.write("5.0,3.0,1.5,0.2,setosa\n")
        last = session.step(fenced("while True:\n    pass"))
    finally:
        session.close()
        shutil.rmtree(base)
    assert last.done and session.end_reason == "interpreter_lost"
    assert "re-running <turn 0>" in last.info["execution"]["stderr"]
    assert session.summary().outcome.reason == "interpreter_lost"


def test_output_is_capped_and_the_observation_cut_in_the_middle(env):
    task = env.task("iris-column_mean-00")
    session = play(env, task, seed=0, actions=[fenced("print('a' * 50_000 + 'END')")])
    stdout = session.steps[0].info["execution"]["stdout"]
    assert len(stdout) < 21_000 and "more characters not kept" in stdout
    text = session.steps[0].observation[0].content
    assert len(text) < 4_200 and "characters cut" in text


def test_hook_and_submit_reject_values_that_are_not_json(env):
    task = env.task("iris-column_mean-00")
    actions = [fenced("hook(object(), name='o')"), fenced("submit(pd.concat([df] * 10))")]
    session = play(env, task, seed=0, actions=actions)
    assert "TypeError" in session.steps[0].observation[0].content
    assert "over the limit" in session.steps[1].observation[0].content  # 1500 rows as records
    assert not session.done


def test_one_turn_records_at_most_a_hundred_hooks(env):
    task = env.task("iris-column_mean-00")
    session = play(env, task, seed=0, actions=[fenced("for i in range(500):\n    hook(i)")])
    execution = session.steps[0].info["execution"]
    assert len(execution["hooks"]) == 100
    assert "already recorded 100 values" in execution["stderr"]


def test_the_model_code_gets_a_cleared_environment_and_no_stdin(env, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    task = env.task("iris-column_mean-00")
    session = play(
        env,
        task,
        seed=0,
        actions=[
            fenced("import os, sys\nprint('SECRET_TOKEN' in os.environ, repr(sys.stdin.read()))"),
            fenced("import os\nprint(os.read(0, 10))"),
        ],
    )
    assert session.steps[0].observation[0].content == "[stdout]:\nFalse ''\n"
    assert session.steps[1].observation[0].content == "[stdout]:\nb''\n"


def descendants(pid: int) -> set[int]:
    """Host pids of the processes below `pid` (the model's code sees other pids in its own pid
    namespace)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def test_no_process_is_left_behind_after_close(env):
    task = env.task("iris-column_mean-00")
    session = env.start(task, seed=0)
    # The sandbox holds no system programs: the sleeper is the interpreter itself.
    sleeper = "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])"
    step = session.step(fenced(sleeper))
    worker = session.interpreter.pid
    # Poll /proc until the sleeper shows up under the worker (or a generous deadline passes).
    deadline = time.monotonic() + 30
    while True:
        below = descendants(worker)
        sleeping = [p for p in below if cmdline(p).endswith(b"time.sleep(600)\x00")]
        if sleeping or time.monotonic() > deadline:
            break
    assert alive(worker) and len(sleeping) == 1, step.observation
    session.close()
    assert session.interpreter.pid is None
    assert not alive(worker) and not [p for p in below if alive(p)]
    session.close()  # idempotent


def test_a_finished_episode_releases_its_process(env):
    task = env.task("iris-column_mean-00")
    session = env.start(task, seed=0)
    session.step(fenced("print(1)"))
    worker = session.interpreter.pid
    session.step(fenced("submit(0)"))
    assert session.done and not alive(worker)
    with pytest.raises(EnvError, match="already ended"):
        session.step(fenced("print(2)"))


def test_a_dropped_interpreter_is_stopped_by_the_garbage_collector():
    interpreter = Interpreter(
        "sklearn/datasets/data/iris.csv", 0, SessionLimits(run=RUN_LIMITS.with_(memory_bytes=1 << 30))
    )
    interpreter.run("x = 1", "<turn 0>")
    pid = interpreter.pid
    assert pid is not None and alive(pid)
    del interpreter
    assert not alive(pid)


def test_replay_reproduces_the_state(env):
    task = env.task("iris-group_argmax-00")
    actions = [
        fenced("import random\nr = random.random()\nprint(r)"),
        "no code here",
        fenced("means = df.groupby('species').mean()\nhook(means, name='means')\nbad = 1 / 0"),
        fenced("print(sorted({'b', 'a'}), len(means))"),
    ]
    original = play(env, task, seed=5, actions=actions)
    replayed = env.start(task, seed=5, actions=actions)
    replayed.close()
    assert replayed.state() == original.state()
    assert [s.observation for s in replayed.steps] == [s.observation for s in original.steps]
    assert [s.status for s in replayed.steps] == [s.status for s in original.steps]
    other_seed = play(env, task, seed=6, actions=actions[:1])
    assert other_seed.state()["outputs"][0] != original.state()["outputs"][0]


def test_each_session_works_in_its_own_private_directory(env):
    task = env.task("iris-column_mean-00")
    write = fenced("import os\nopen('notes.txt', 'w').write('x')\nprint(os.getcwd())")
    read = fenced("import os\nprint(os.path.exists('notes.txt'))")
    first = play(env, task, seed=0, actions=[write, read])
    workdir = first.steps[0].info["execution"]["stdout"].strip()
    assert first.steps[1].info["execution"]["stdout"] == "True\n"  # kept across turns
    assert not os.path.exists(os.path.join(workdir, "notes.txt"))  # gone with the session
    other = play(env, task, seed=0, actions=[read])
    assert other.steps[0].info["execution"]["stdout"] == "False\n"
