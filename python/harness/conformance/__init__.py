"""Does an environment keep the environment contract? The check behind `harness check environment`.

    from harness.conformance import assert_conforms, check_environment

    report = check_environment(MyGame, max_turns=6)   # a class and its arguments, an instance,
    print(report.text())                              # a registered name ("my-game") or
                                                      # "module:Class"
    assert_conforms(MyGame, max_turns=6)              # in a plugin's tests: AssertionError listing
                                                      # every failure

The check lists the tasks, then plays a few of them (the first of each split) with two seeds:
the given `actions`, or probes built from the prompt's tags, then garbage until the episode
ends. It judges the rules in `RULES` (docs/plugins.md, "The environment contract, checked"),
and runs one episode through the real rollout engine with the scripted backend. Nothing stops
it early: each failure names the rule, the task, the seed, the step and what differed.

Keyword arguments are the environment's own, except the check's settings (`actions`,
`task_ids`, `max_tasks`, `seeds_per_task`, `max_steps`); for an environment that takes an
argument of one of those names, pass an instance: `check_environment(MyGame(actions=...))`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.conformance.report import Failure, Report
from harness.conformance.rules import RULES, Checker
from harness.environment import Environment
from harness.options import setting

__all__ = [
    "RULES",
    "CheckConfig",
    "EnvBuildError",
    "Failure",
    "Report",
    "assert_conforms",
    "check_environment",
    "run_check",
]


@dataclass(frozen=True)
class CheckConfig:
    """The settings of a conformance check (`harness check environment`)."""

    env_args: dict[str, Any] = setting(factory=dict, help="Environment arguments.")
    actions: list[str] = setting(
        factory=list,
        help="Assistant messages to play at turns 1, 2, ... before the garbage (default: probes "
             "built from the tags the prompt shows).")
    task_ids: list[str] | None = setting(
        None, help="Play these tasks (default: the first task of each split, then the next ones).")
    max_tasks: int = setting(3, help="Tasks played, when task_ids is not given.")
    seeds_per_task: int = setting(2, help="Seeds each task is played with (0, 1, ...).")
    max_steps: int = setting(64, help="Steps a play may take before it counts as never ending.")

    def __post_init__(self) -> None:
        for name in ("max_tasks", "seeds_per_task", "max_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not all(isinstance(a, str) for a in self.actions):
            raise ValueError("actions must be strings")


class EnvBuildError(ValueError):
    """The environment could not be built from the arguments given."""


def run_check(env: Environment | type[Environment] | str, config: CheckConfig, *,
              progress: Callable[[str], None] | None = None) -> Report:
    """Check `env` (an instance, a class built with `config.env_args`, a registered name or
    `module:Class`); `progress` is called with a line saying what is being checked."""
    instance, given = _build(env, config.env_args)
    return Checker(instance, given, config, progress).run()


def check_environment(env: Environment | type[Environment] | str, /, *,
                      actions: Sequence[str] = (), task_ids: Sequence[str | int] | None = None,
                      max_tasks: int = 3, seeds_per_task: int = 2, max_steps: int = 64,
                      **args: Any) -> Report:
    """The conformance report of `env` built with `args`; see the module's docstring."""
    config = CheckConfig(env_args=args, actions=list(actions),
                         task_ids=None if task_ids is None else [str(t) for t in task_ids],
                         max_tasks=max_tasks, seeds_per_task=seeds_per_task, max_steps=max_steps)
    return run_check(env, config)


def assert_conforms(env: Environment | type[Environment] | str, /, **kwargs: Any) -> Report:
    """`check_environment(env, **kwargs)`, raising AssertionError with the whole report when a
    rule is broken (for a plugin's own tests)."""
    report = check_environment(env, **kwargs)
    if not report.ok:
        raise AssertionError("the environment breaks the contract:\n" + report.text())
    return report


def _find(name: str) -> Any:
    """A registered environment, or `module:Class` imported (to check a class before its
    plugin is installed)."""
    if ":" not in name:
        from harness import plugins

        return plugins.get("environment", name)  # PluginError names the known ones
    import importlib

    module, _, qualname = name.partition(":")
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise LookupError(f"cannot import {name}: {type(exc).__name__}: {exc}") from None
    return found


def _build(env: Any, args: dict[str, Any]) -> tuple[Environment, dict[str, Any] | None]:
    """The instance to check, and the arguments it was built with (None: given built)."""
    if isinstance(env, Environment):
        if args:
            raise TypeError("give an environment instance or a class with arguments, not both")
        return env, None
    if isinstance(env, str):
        env = _find(env)
    if not (isinstance(env, type) and issubclass(env, Environment)):
        raise TypeError(f"expected a harness.environment.Environment subclass, got {env!r}")
    try:
        return env(**args), dict(args)
    except Exception as exc:
        raise EnvBuildError(f"{getattr(env, 'name', env.__name__)}: could not be built with arguments "
                            f"{args}: {type(exc).__name__}: {exc}") from exc
