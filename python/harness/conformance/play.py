"""Playing an environment for the conformance check, and comparing what two plays saw.

A `Transcript` is everything the environment showed during one play, as plain JSON data:
the prompt, each step's observation, status, reward, done and info, `state()` and
`summary()` before the first step and after each one. Two plays of the same task, seed and
actions must give equal transcripts; `first_difference` says where they do not.

Determinism in another process (`transcripts_elsewhere`) plays the same actions in a fresh
interpreter with another `PYTHONHASHSEED`, which catches the classic bug of iterating a set or
a dict built from one: the order changes from one process to the next.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import sysconfig
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.environment import Environment, Session, Summary
from harness.episode import Step, Task


class PlayError(Exception):
    """The environment raised while being played; `step` is 1-based (0: starting the session)."""

    def __init__(self, step: int, action: str | None, error: str):
        self.step = step
        self.action = action
        self.error = error
        super().__init__(error)


def describe(exc: BaseException) -> str:
    """`Type: message (at file:line)` on one line, the line being the last one of the
    traceback outside installed libraries and the standard library (the plugin's own code)."""
    message = one_line(str(exc))
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    libraries = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], "site-packages")
    own = [f for f in frames if not any(lib in f.filename for lib in libraries)] or frames
    if own:
        text += f" (at {own[-1].filename}:{own[-1].lineno})"
    return text


def one_line(message: str, limit: int = 300) -> str:
    """An error message on one line (pydantic's take several, with a link to its docs)."""
    lines = [line.strip() for line in message.splitlines()
             if line.strip() and not line.strip().startswith("For further information")]
    return " ".join(lines)[:limit]


def plain(value: Any) -> Any:
    """`value` as JSON data, for comparing; what is not JSON is compared by its repr."""
    return json.loads(json.dumps(value, default=repr))


def step_view(step: Step) -> dict[str, Any]:
    """What a step shows the model and the trainer (its action aside)."""
    return {
        "observation": [m.model_dump() for m in step.observation],
        "status": step.status.model_dump(),
        "reward": step.reward,
        "done": step.done,
        "info": plain(step.info),
    }


def summary_view(summary: Summary) -> dict[str, Any]:
    return plain({
        "reward": summary.reward,
        "outcome": summary.outcome.model_dump(),
        "reward_components": summary.reward_components,
        "info": summary.info,
    })


@dataclass
class Transcript:
    prompt: list[dict[str, Any]]
    actions: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    states: list[Any] = field(default_factory=list)  # before the first step, then after each
    summaries: list[Any] = field(default_factory=list)  # likewise
    done: bool = False
    end_reason: str | None = None

    def comparable(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "steps": self.steps, "states": self.states,
                "summaries": self.summaries, "end_reason": self.end_reason}


@contextmanager
def opened(session: Session) -> Iterator[Session]:
    try:
        yield session
    finally:
        with contextlib.suppress(Exception):  # closing is best effort here; the rules judge what the env did
            session.close()


def play(env: Environment, task: Task, seed: int, actions: Sequence[str],
         labels: Sequence[str] | None = None, *, until_done: bool = True) -> Transcript:
    """Start a session and play `actions` (stopping when the episode ends, with `until_done`).
    Raises PlayError naming the step when the environment raises."""
    labels = list(labels) if labels is not None else [f"action {i + 1}" for i in range(len(actions))]
    try:
        session = env.start(task, seed)
    except Exception as exc:
        raise PlayError(0, None, describe(exc)) from exc
    with opened(session):
        try:
            transcript = Transcript(prompt=[m.model_dump() for m in session.prompt])
            transcript.states.append(plain(session.state()))
            transcript.summaries.append(summary_view(session.summary()))
        except Exception as exc:
            raise PlayError(0, None, describe(exc)) from exc
        for number, (action, label) in enumerate(zip(actions, labels), 1):
            if until_done and session.done:
                break
            try:
                step = session.step(action)
                transcript.steps.append(step_view(step))
                transcript.states.append(plain(session.state()))
                transcript.summaries.append(summary_view(session.summary()))
            except Exception as exc:
                raise PlayError(number, label, describe(exc)) from exc
            transcript.actions.append(action)
            transcript.labels.append(label)
        transcript.done = session.done
        transcript.end_reason = session.end_reason
    return transcript


def first_difference(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """Where two JSON values first differ: (path, value in a, value in b), or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                return (f"{path}.{key}".lstrip("."), a.get(key, "<absent>"), b.get(key, "<absent>"))
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        if len(a) != len(b):
            return (f"{path} (length)".lstrip("."), len(a), len(b))
        return None
    if _number(a) and _number(b) and (a == b or (math.isnan(a) and math.isnan(b))):
        return None  # 1 and 1.0 are one JSON number; NaN is judged by the json rule
    if a != b or type(a) is not type(b):
        return (path.lstrip(".") or "(value)", a, b)
    return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- another process ------------------------------------------------------------------------


def importable_name(cls: type) -> str | None:
    """`module:qualname` when a fresh interpreter can import `cls` by it, else None."""
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        return None
    return f"{cls.__module__}:{cls.__qualname__}"


def transcripts_elsewhere(cls: type, args: dict[str, Any],
                          plays: Sequence[tuple[Task, int, Sequence[str]]]) -> list[dict[str, Any]]:
    """The comparable transcripts of `plays` (task, seed, actions), played in a fresh Python
    process with another hash seed. Raises RuntimeError when that process fails."""
    name = importable_name(cls)
    if name is None:
        raise RuntimeError(f"{cls.__qualname__} is defined in {cls.__module__} and cannot be imported "
                           "by a fresh interpreter")
    request = {"class": name, "args": args,
               "plays": [{"task": t.model_dump(mode="json"), "seed": s, "actions": list(a)}
                         for t, s, a in plays]}
    hash_seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed,
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(
        [sys.executable, "-c", "from harness.conformance.play import child_main; child_main()"],
        input=json.dumps(request), capture_output=True, text=True, env=env,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"the other process failed: {tail[0]}")
    return json.loads(done.stdout)


def child_main() -> None:
    """The other process: read a request on stdin, write the transcripts on stdout."""
    import importlib

    request = json.loads(sys.stdin.read())
    module, qualname = request["class"].split(":")
    cls: Any = importlib.import_module(module)
    for part in qualname.split("."):
        cls = getattr(cls, part)
    env = cls(**request["args"])
    out = []
    for item in request["plays"]:
        try:
            transcript = play(env, Task.model_validate(item["task"]), item["seed"], item["actions"])
            out.append(transcript.comparable())
        except PlayError as exc:
            out.append({"error": f"step {exc.step}: {exc.error}"})
    sys.stdout.write(json.dumps(out))
