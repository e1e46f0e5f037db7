"""The rules of the environment contract, one method each, and the order they run in.

`Checker.run()` judges the environment itself (identity, arguments, tasks, splits), then plays
each chosen task with each seed (see `actions.script`) and judges every play, then plays them
again in another process and runs one through the engine. Nothing stops the check: what the
environment raised or got wrong is a `Failure` naming the rule, the task, the seed, the step
and what differed.
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.conformance.actions import Action, garbage, script
from harness.conformance.play import (
    PlayError,
    Transcript,
    describe,
    first_difference,
    one_line,
    opened,
    plain,
    play,
    short,
    step_view,
    summary_view,
    transcripts_elsewhere,
)
from harness.conformance.report import Failure, Report
from harness.environment import Environment
from harness.episode import Message, Step, Task

if TYPE_CHECKING:
    from harness.conformance import CheckConfig

RULES: dict[str, str] = {
    "identity": "`name` and `version` are non-empty strings",
    "arguments": "constructor arguments are JSON, kept in `env.args` (passed to `super().__init__`), "
                 "and `env.args` rebuilds the same environment",
    "tasks": "at least one task, listed in a stable order, with unique ids and JSON data",
    "splits": "`splits()` names every task's split once, and `tasks(split)` lists exactly that "
              "split's tasks in the same order",
    "prompt": "`new_session` fills `session.prompt` with the opening messages",
    "json": "`step.info`, `state()` and the summary's info and components are JSON; `state()` "
            "comes back equal from a JSON round trip",
    "determinism": "the same task, seed and actions give the same observations, statuses, rewards, "
                   "states and summary, in a rebuilt environment and in another process",
    "replay": "`start(task, seed, actions=...)` rebuilds the state, messages and summary of the live "
              "episode",
    "state": "two moments with equal `state()` answer the same action the same way",
    "robustness": "a garbage action (empty, whitespace, 100 KB, random Unicode, lone surrogates, "
                  "binary-ish text, repeated tags) is an invalid step, never an exception",
    "complete_reason": "the environment ends its episodes by its own rules and names why "
                       "(`step.info['complete_reason']` or `session.end_reason`); the summary's "
                       "`outcome.reason` says the same",
    "engine": "an episode run by the rollout engine (scripted backend) is a valid episode record "
              "without error, matching the environment played directly",
}

MAX_REPLAYS = 12  # prefixes replayed per play: all of them for short episodes
MAX_STATE_CHECKS = 3  # repeated states checked per play


class Checker:
    def __init__(self, env: Environment, args: dict[str, Any] | None, config: CheckConfig,
                 progress: Callable[[str], None] | None = None) -> None:
        self.env = env
        self.progress = progress or (lambda message: None)
        self.given_args = args  # None when an instance was given
        self.config = config
        self.report = Report(env=str(getattr(env, "name", type(env).__name__)),
                             version=str(getattr(env, "version", "?")),
                             args=plain(getattr(env, "args", {})), rules=list(RULES))
        self.tasks: list[Task] = []
        self.rebuilt: Environment | None = None
        self.played: list[tuple[Task, int, Transcript]] = []  # the plays that ran to their end

    # -- bookkeeping ------------------------------------------------------------------------

    def fail(self, rule: str, message: str, *, task: Task | None = None, seed: int | None = None,
             step: int | None = None) -> None:
        self.report.failures.append(Failure(
            rule, message, task=None if task is None else str(task.id), seed=seed, step=step))

    def attempt(self, rule: str, what: str, fn: Callable[..., Any], *args: Any, **where: Any) -> Any:
        """`fn(*args)`, or None after recording that the environment raised doing `what`."""
        try:
            return fn(*args)
        except Exception as exc:
            self.fail(rule, f"{what} raised {describe(exc)}", **where)
            return None

    def json_problem(self, value: Any, *, round_trip: bool) -> str | None:
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            return f"is not JSON ({exc})"
        if round_trip and json.loads(text) != value:
            found = first_difference(json.loads(text), value)
            where = f" at {found[0]}" if found else ""
            return (f"changes in a JSON round trip{where} (tuples become lists, keys become "
                    "strings): store plain JSON types")
        return None

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> Report:
        self.progress(f"checking {self.report.env} {self.report.version}: arguments, tasks, splits")
        self.check_identity()
        self.check_arguments()
        self.check_tasks()
        if not self.tasks:
            return self.report
        self.check_splits()
        for task in self.chosen_tasks():
            self.report.tasks.append(str(task.id))
            for seed in range(self.config.seeds_per_task):
                self.progress(f"playing task {str(task.id)!r} with seed {seed}")
                self.play_task(task, seed, robustness=seed == 0)
        self.progress("playing again in another process")
        self.check_elsewhere()
        self.progress("one episode through the rollout engine")
        self.check_engine()
        return self.report

    def check_identity(self) -> None:
        for attribute in ("name", "version"):
            value = getattr(type(self.env), attribute, None)
            if not isinstance(value, str) or not value:
                self.fail("identity", f"{type(self.env).__name__}.{attribute} must be a non-empty "
                          f"string class attribute, not {short(value)}")

    def check_arguments(self) -> None:
        args = getattr(self.env, "args", None)
        if not isinstance(args, dict):
            self.fail("arguments", f"env.args is {short(args)}, not a dict: call "
                      "super().__init__(**args) in __init__")
            return
        if self.given_args is not None:
            problem = self.json_problem(self.given_args, round_trip=True)
            if problem:
                self.fail("arguments", f"the constructor arguments {problem}; they are written into "
                          "every episode's env.args")
            for key, value in self.given_args.items():
                if key not in args:
                    self.fail("arguments", f"env.args lacks {key!r} (given {short(value)}): pass every "
                              "argument on to super().__init__(**args), so episodes record it")
                elif plain(args[key]) != plain(value):
                    self.fail("arguments", f"env.args[{key!r}] is {short(args[key])}, given {short(value)}")
        problem = self.json_problem(args, round_trip=True)
        if problem:
            self.fail("arguments", f"env.args {problem}")
            return
        self.rebuilt = self.attempt("arguments", f"rebuilding {type(self.env).__name__}(**env.args)",
                                    lambda: type(self.env)(**json.loads(json.dumps(args))))
        if self.rebuilt is not None and plain(getattr(self.rebuilt, "args", None)) != plain(args):
            self.fail("arguments", f"an environment rebuilt from env.args has env.args "
                      f"{short(getattr(self.rebuilt, 'args', None))}, not {short(args)}")

    def check_tasks(self) -> None:
        first = self.attempt("tasks", "tasks()", lambda: list(self.env.tasks()))
        if first is None:
            return
        wrong = [t for t in first if not isinstance(t, Task)]
        if wrong:
            self.fail("tasks", f"tasks() yields {type(wrong[0]).__name__}, not harness.episode.Task")
            return
        if not first:
            self.fail("tasks", f"tasks() lists no task with env.args {short(self.env.args)}")
            return
        self.tasks = first
        seen: dict[str, Task] = {}
        for task in first:
            key = str(task.id)
            if key in seen:
                self.fail("tasks", f"two tasks have the id {key!r} (ids compare as strings)", task=task)
            seen[key] = task
            problem = self.json_problem(task.data, round_trip=True)
            if problem:
                self.fail("tasks", f"task.data {problem}", task=task)
        second = self.attempt("tasks", "tasks() a second time", lambda: list(self.env.tasks()))
        self.compare_task_lists("tasks() a second time", first, second)
        if self.rebuilt is not None:
            rebuilt = self.rebuilt
            third = self.attempt("arguments", "tasks() of the rebuilt environment", lambda: list(rebuilt.tasks()))
            self.compare_task_lists("the environment rebuilt from env.args", first, third, rule="arguments")

    def compare_task_lists(self, what: str, first: list[Task], other: list[Task] | None,
                           rule: str = "tasks") -> None:
        if other is None:
            return
        a = [t.model_dump(mode="json") for t in first]
        b = [t.model_dump(mode="json") if isinstance(t, Task) else repr(t) for t in other]
        found = first_difference(a, b)
        if found:
            self.fail(rule, f"{what} lists other tasks: {found[0]} is {short(found[2])}, "
                      f"was {short(found[1])} (tasks must come in a stable order)")

    def check_splits(self) -> None:
        splits = self.attempt("splits", "splits()", self.env.splits)
        if splits is None:
            return
        if not isinstance(splits, list) or not all(isinstance(s, str) for s in splits):
            self.fail("splits", f"splits() returned {short(splits)}, not a list of strings")
            return
        if len(set(splits)) != len(splits):
            self.fail("splits", f"splits() names a split twice: {splits}")
        for task in self.tasks:
            if task.split not in splits:
                self.fail("splits", f"the task's split {task.split!r} is not one of splits() {splits}",
                          task=task)
                break
        for split in dict.fromkeys(splits):
            listed = self.attempt("splits", f"tasks({split!r})", lambda s: list(self.env.tasks(s)), split)
            if listed is None:
                continue
            expected = [str(t.id) for t in self.tasks if t.split == split]
            got = [str(t.id) if isinstance(t, Task) else repr(t) for t in listed]
            if not got:
                self.fail("splits", f"split {split!r} is named by splits() but tasks({split!r}) is empty")
            elif got != expected:
                found = first_difference(expected, got)
                self.fail("splits", f"tasks({split!r}) differs from the tasks of that split in tasks(): "
                          f"{found[0] if found else ''} is {short(found[2] if found else got)}, expected "
                          f"{short(found[1] if found else expected)}")

    def chosen_tasks(self) -> list[Task]:
        if self.config.task_ids:
            by_id = {str(t.id): t for t in self.tasks}
            missing = [i for i in self.config.task_ids if str(i) not in by_id]
            if missing:
                raise ValueError(f"environment {self.report.env!r} has no task(s) {', '.join(missing)}")
            return [by_id[str(i)] for i in self.config.task_ids]
        chosen: dict[str, Task] = {}
        for task in self.tasks:  # the first task of each split, then the next ones
            if task.split not in {t.split for t in chosen.values()}:
                chosen[str(task.id)] = task
        for task in self.tasks:
            if len(chosen) >= self.config.max_tasks:
                break
            chosen.setdefault(str(task.id), task)
        ordered = [t for t in self.tasks if str(t.id) in chosen]
        return ordered[: self.config.max_tasks]

    # -- playing one task with one seed -----------------------------------------------------

    def play_task(self, task: Task, seed: int, *, robustness: bool) -> None:
        where: dict[str, Any] = {"task": task, "seed": seed}
        prompt_text = self.check_prompt(task, seed)
        if prompt_text is None:
            return
        scripts = [script(prompt_text, self.config.actions, self.config.max_steps)]
        if robustness:
            self.check_garbage(task, seed, garbage(prompt_text))
            scripts.append(script(prompt_text, [], self.config.max_steps, garbage_only=True))
        for actions in scripts:
            try:
                live = play(self.env, task, seed, [a.text for a in actions], [a.label for a in actions])
            except PlayError as exc:
                self.fail("robustness", f"step raised on {exc.action}: {exc.error}", step=exc.step, **where)
                continue
            self.played.append((task, seed, live))
            self.report.episodes += 1
            self.report.steps += len(live.steps)
            self.check_json(live, **where)
            self.check_complete_reason(live, task, seed)
            self.check_determinism(live, task, seed)
            self.check_replay(live, task, seed)
            self.check_state(live, task, seed)

    def check_prompt(self, task: Task, seed: int) -> str | None:
        """The prompt's text, once the prompt rule holds for a new session."""
        where: dict[str, Any] = {"task": task, "seed": seed}
        session = self.attempt("prompt", "start(task, seed)", lambda: self.env.start(task, seed), **where)
        if session is None:
            return None
        with opened(session):
            prompt = session.prompt
            if not isinstance(prompt, list) or not all(isinstance(m, Message) for m in prompt):
                self.fail("prompt", f"session.prompt is {short(prompt)}, not a list of "
                          "harness.episode.Message", **where)
                return None
            if not prompt:
                self.fail("prompt", "session.prompt is empty: new_session must fill it with the opening "
                          "messages the model is sent (the engine never writes a prompt)", **where)
                return None
            if session.steps or session.done:
                self.fail("prompt", "a new session has steps already, or is done", **where)
            return "\n".join(m.content for m in prompt)

    def check_garbage(self, task: Task, seed: int, actions: list[Action]) -> None:
        for action in actions:
            where: dict[str, Any] = {"task": task, "seed": seed, "step": 1}
            session = self.attempt("robustness", "start(task, seed)", lambda: self.env.start(task, seed))
            if session is None:
                return
            with opened(session):
                step = self.attempt("robustness", f"step() on {action.label}",
                                    lambda s, a: s.step(a.text), session, action, **where)
                if step is None:
                    continue
                if not isinstance(step, Step):
                    self.fail("robustness", f"step() on {action.label} returned {type(step).__name__}, "
                              "not harness.episode.Step", **where)
                elif step.status.valid:
                    self.fail("robustness", f"{action.label} was taken as a valid step (label "
                              f"{step.status.label!r}); an action the environment cannot use is "
                              "invalid: StepStatus(valid=False, reason=...)", **where)
                self.attempt("robustness", f"state() after {action.label}", session.state, **where)
                self.attempt("robustness", f"summary() after {action.label}", session.summary, **where)

    def check_json(self, live: Transcript, **where: Any) -> None:
        # The views were made with plain(), which repr()s what is not JSON: judge the originals
        # through a replay of the whole play, step by step.
        session = self.attempt("json", "start(task, seed)",
                               lambda: self.env.start(where["task"], where["seed"]), **where)
        if session is None:
            return
        with opened(session):
            problem = self.json_problem(session.state(), round_trip=True)
            if problem:
                self.fail("json", f"state() {problem}", step=0, **where)
                return
            for number, action in enumerate(live.actions, 1):
                try:
                    step = session.step(action)
                    values = {"step.info": (step.info, False), "state()": (session.state(), True)}
                    summary = session.summary()
                except Exception:
                    return  # the replay rule reports a replay that raises
                values["summary().info"] = (summary.info, False)
                values["summary().reward_components"] = (summary.reward_components, False)
                for what, (value, round_trip) in values.items():
                    problem = self.json_problem(value, round_trip=round_trip)
                    if problem:
                        self.fail("json", f"{what} {problem}", step=number, **where)
                        return
                if summary.reward is not None and (not isinstance(summary.reward, (int, float))
                                                   or not math.isfinite(summary.reward)):
                    self.fail("json", f"summary().reward is {short(summary.reward)}: a reward is a finite "
                              "number or None", step=number, **where)
                    return
                bad = [v for v in summary.reward_components.values()
                       if not isinstance(v, (int, float)) or not math.isfinite(v)]
                if bad:
                    self.fail("json", f"summary().reward_components holds {short(bad[0])}: components are "
                              "finite numbers", step=number, **where)
                    return

    def check_complete_reason(self, live: Transcript, task: Task, seed: int) -> None:
        where: dict[str, Any] = {"task": task, "seed": seed}
        if not live.done:
            self.fail("complete_reason", f"still not done after {len(live.steps)} steps (the last ones "
                      "garbage): an environment ends its episodes by its own rules, e.g. a turn limit, "
                      "and names why in step.info['complete_reason']", **where)
            return
        last = len(live.steps)
        if live.end_reason in (None, "done"):
            self.fail("complete_reason", "the step that ended the episode did not say why: set "
                      "step.info['complete_reason'] (or session.end_reason) to e.g. 'solved' or "
                      "'max_turns_reached'", step=last, **where)
        outcome = live.summaries[-1]["outcome"]
        if not outcome.get("done"):
            self.fail("complete_reason", "summary().outcome.done is false after the episode ended",
                      step=last, **where)
        if outcome.get("reason") != live.end_reason:
            self.fail("complete_reason", f"summary().outcome.reason is {short(outcome.get('reason'))} but "
                      f"the episode ended with {short(live.end_reason)}: the engine records "
                      "outcome.reason from the summary (use Outcome(reason=self.end_reason, ...))",
                      step=last, **where)

    def check_determinism(self, live: Transcript, task: Task, seed: int) -> None:
        where: dict[str, Any] = {"task": task, "seed": seed}
        env = self.rebuilt or self.env
        try:
            again = play(env, task, seed, live.actions, live.labels)
        except PlayError as exc:
            self.fail("determinism", f"the same actions again raised on {exc.action}: {exc.error}",
                      step=exc.step, **where)
            return
        self.compare(live, again.comparable(), "determinism",
                     "played again with the same actions in an environment rebuilt from env.args", **where)

    def compare(self, live: Transcript, other: dict[str, Any], rule: str, how: str, **where: Any) -> bool:
        found = first_difference(live.comparable(), other)
        if not found:
            return True
        path, was, now = found
        step = None
        names = {"steps": "", "states": "state()", "summaries": "summary()"}
        head, _, rest = path.partition("[")
        if head in names and rest[:1].isdigit():
            index, _, rest = rest.partition("]")
            step = int(index) + (head == "steps")
            path = ".".join(p for p in (names[head], rest.lstrip(".")) if p)
        elif path == "steps (length)":
            path = "number of steps"
        self.fail(rule, f"{path}: {short(now)}, live {short(was)} ({how})", step=step, **where)
        return False

    def check_replay(self, live: Transcript, task: Task, seed: int) -> None:
        where: dict[str, Any] = {"task": task, "seed": seed}
        n = len(live.actions)
        lengths = sorted({0, n, *range(1, min(n, MAX_REPLAYS)),
                          *(round(i * n / MAX_REPLAYS) for i in range(MAX_REPLAYS))})
        for k in lengths:
            session = self.attempt("replay", f"start(task, seed, actions=<the first {k}>)",
                                   lambda k: self.env.start(task, seed, actions=live.actions[:k]), k,
                                   step=k, **where)
            if session is None:
                return
            with opened(session):
                try:
                    replayed = {"state": plain(session.state()), "summary": summary_view(session.summary()),
                                "messages": [m.model_dump() for m in session.messages()]}
                except Exception as exc:
                    self.fail("replay", f"after replaying {k} actions: {describe(exc)}", step=k, **where)
                    return
            expected = {"state": live.states[k], "summary": live.summaries[k],
                        "messages": live_messages(live, k)}
            found = first_difference(expected, replayed)
            if found:
                self.fail("replay", f"start(actions=<the first {k}>) rebuilt {found[0]} as "
                          f"{short(found[2])}, live {short(found[1])}", step=k, **where)
                return

    def check_state(self, live: Transcript, task: Task, seed: int) -> None:
        """Equal states must answer alike: from the end, each state seen before is stepped
        again with the action that followed its later twin."""
        where: dict[str, Any] = {"task": task, "seed": seed}
        checks = 0
        for j in range(len(live.actions) - 1, 0, -1):
            if checks >= MAX_STATE_CHECKS:
                return
            twins = [i for i in range(j) if live.states[i] == live.states[j]]
            if not twins:
                continue
            i, checks = twins[0], checks + 1
            try:
                session = self.env.start(task, seed, actions=live.actions[:i])
                with opened(session):
                    answer = step_view(session.step(live.actions[j]))
                    after = plain(session.state())
            except Exception:
                continue  # the replay rule reports replays that raise
            expected = {k: v for k, v in live.steps[j].items() if k != "info"}
            found = first_difference(expected, {k: v for k, v in answer.items() if k != "info"})
            if found is None and after != live.states[j + 1]:
                found = ("the next state()", live.states[j + 1], after)
            if found:
                self.fail("state", f"state() after step {i} equals state() after step {j}, yet "
                          f"{live.labels[j]} is answered differently: {found[0]} {short(found[2])} after "
                          f"step {i}, {short(found[1])} after step {j}; state() must hold everything that "
                          "decides what comes next (a turn count, say)", step=j + 1, **where)
                return

    # -- beyond one play --------------------------------------------------------------------

    def check_elsewhere(self) -> None:
        if not self.played:
            return
        try:
            others = transcripts_elsewhere(type(self.env), plain(self.env.args),
                                           [(t, s, live.actions) for t, s, live in self.played])
        except RuntimeError as exc:
            self.report.notes.append(f"determinism in another process not checked: {exc}")
            return
        for (task, seed, live), other in zip(self.played, others):
            how = "played with the same actions in another process, with another PYTHONHASHSEED"
            if "error" in other:
                self.fail("determinism", f"{how}: {other['error']}", task=task, seed=seed)
            elif not self.compare(live, other, "determinism", how, task=task, seed=seed):
                return

    def check_astep(self, task: Task, action: str) -> bool:
        """The engine awaits `astep`; an override that skips `step()` records nothing."""
        session = self.attempt("engine", "start(task, 0)", lambda: self.env.start(task, 0), task=task)
        if session is None:
            return False
        with opened(session):
            problem = self.attempt("engine", "astep()", lambda: _astep_problem(session, action),
                                   task=task, seed=0, step=1)
        if problem:
            self.fail("engine", problem, task=task, seed=0, step=1)
        return problem is None and not any(f.rule == "engine" for f in self.report.failures)

    def check_engine(self) -> None:
        """One episode of the first played task through the rollout engine, compared with the
        same script played directly with the episode's seed."""
        if not self.played:
            return
        from harness.engine.valid_text import valid_text
        from harness.episode import EpisodeError, validate_episode

        task, _, live = self.played[0]
        prompt_text = "\n".join(m["content"] for m in live.prompt)
        responses = [a.text for a in script(prompt_text, self.config.actions, self.config.max_steps)]
        if not self.check_astep(task, responses[0]):
            return
        with tempfile.TemporaryDirectory(prefix="harness-check-") as tmp:
            record = self.attempt("engine", "the rollout engine", lambda: engine_episode(
                self.env, task, responses, self.config.max_steps, tmp), task=task)
        if record is None:
            return
        where = {"task": task, "seed": record.get("seed")}
        try:
            episode = validate_episode(record, path="the engine's episode record")
        except EpisodeError as exc:
            self.fail("engine", f"the record does not validate: {exc}", **where)
            return
        schema_problem = json_schema_problem(record)
        if schema_problem is None:
            self.report.notes.append("the engine's record was checked against the episode models only "
                                     "(install jsonschema to check it against the published JSON Schema)")
        elif schema_problem:
            self.fail("engine", f"the record does not validate against the JSON Schema: {schema_problem}",
                      **where)
        if episode.error is not None:
            self.fail("engine", f"the engine recorded an error: {episode.error.type}: "
                      f"{one_line(episode.error.message)}", **where)
            return
        # The engine hands the environment valid Unicode only (lone surrogates repaired).
        actions = [valid_text(a) for a in responses]
        try:
            direct = play(self.env, task, episode.seed or 0, actions)
        except PlayError as exc:
            self.fail("engine", f"playing the script directly raised at step {exc.step}: {exc.error}",
                      **where)
            return
        if plain(episode.env.args) != plain(self.env.args):
            self.fail("engine", f"env.args in the record is {short(episode.env.args)}, the environment's "
                      f"{short(self.env.args)}", **where)
        recorded = [{"action": s.action, **plain(step_view(s))} for s in episode.steps]
        expected = [{"action": a, **v} for a, v in zip(direct.actions, direct.steps)]
        found = first_difference(direct.prompt, [m.model_dump() for m in episode.prompt])
        if found:
            self.fail("engine", f"the record's prompt{found[0]} is {short(found[2])}, the session's "
                      f"{short(found[1])}", step=0, **where)
            return
        for number, (want, got) in enumerate(zip(expected, recorded), 1):
            found = first_difference(want, got)
            if found:
                self.fail("engine", f"the record's {found[0]} is {short(found[2])}, played directly "
                          f"{short(found[1])}", step=number, **where)
                return
        if len(recorded) != len(expected):
            self.fail("engine", f"the record has {len(recorded)} steps, the same script played directly "
                      f"{len(expected)}", **where)
            return
        final = direct.summaries[-1]
        expected_reason = direct.end_reason if direct.done else "max_turns_reached"
        if episode.outcome.reason != expected_reason or episode.outcome.reason is None:
            self.fail("engine", f"the record's outcome.reason is {short(episode.outcome.reason)}, the "
                      f"episode ended with {short(expected_reason)}", **where)
        info = {k: v for k, v in plain(episode.info).items() if k != "text_repairs"}  # the engine's note
        if first_difference(final["reward"], plain(episode.reward)) or info != final["info"]:
            self.fail("engine", "the record's reward or info differs from summary() of the same actions "
                      "played directly", **where)


def _astep_problem(session: Any, action: str) -> str | None:
    before = len(session.steps)
    step = asyncio.run(session.astep(action))
    if len(session.steps) != before + 1 or session.steps[-1] is not step:
        return (f"astep() left session.steps at {len(session.steps)} steps, not {before + 1}: an "
                "override must go through step() (or do its bookkeeping), or the engine cannot count "
                "the turns")
    return None


def live_messages(live: Transcript, k: int) -> list[dict[str, Any]]:
    """The conversation after the first `k` live steps."""
    out = list(live.prompt)
    for action, step in zip(live.actions[:k], live.steps[:k]):
        out.append({"role": "assistant", "content": action})
        out.extend(step["observation"])
    return out


def engine_episode(env: Environment, task: Task, responses: list[str], max_turns: int,
                   out_dir: str) -> dict[str, Any]:
    """One episode of `task` generated by the rollout engine with the scripted backend, as the
    JSON record the engine wrote."""
    from harness.backends.scripted import ScriptedBackend
    from harness.engine import RolloutConfig, generate_shard

    config = RolloutConfig(env=env.name, backend="scripted", task_ids=[str(task.id)],
                           max_turns=max_turns, backend_args={"responses": responses})
    manifest = generate_shard(config, out_dir, backend=ScriptedBackend(responses=responses), env=env,
                              progress=False)
    path = f"{out_dir}/{manifest['shard']['path']}"
    with open(path, encoding="utf-8") as f:
        [line] = f.read().splitlines()
    return json.loads(line)


def json_schema_problem(record: dict[str, Any]) -> str | None:
    """What the published JSON Schema says about `record`: "" when it is valid, None when
    jsonschema (a test dependency) is not installed."""
    try:
        import jsonschema
    except ImportError:
        return None
    from harness.episode import episode_json_schema

    errors = sorted(jsonschema.Draft202012Validator(episode_json_schema()).iter_errors(record),
                    key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return ""
    first = errors[0]
    return "/" + "/".join(map(str, first.absolute_path)) + f": {first.message[:200]}"
