"""What the seed pipelines share: a stage's settings as Luigi parameters under a prefix, demo-size
defaults that say so, and the task at the end of a pipeline's graph that sums up every stage.

A pipeline task (`luigi_tasks.data_analysis.DataAnalysisTraining`, `luigi_tasks.search.
SearchSummarySFT`, `luigi_tasks.student_code.StudentCodeFineTune`) takes the settings of the
stages it runs. Two stages may have a setting of the same name (the rollouts' `backend` and the
evaluation's), so a pipeline names each stage's settings after the stage where they would meet:

    stage_parameters(EvaluateConfig, "eval_")    # --eval-backend, --eval-max-tokens, …

The parameter's description is the setting's help text, as everywhere; a default the pipeline
changes for its demo size says so in `--help`.

`Pipeline` is the last task of a graph: it requires the stage tasks, and when they are done
writes `{data_dir}/pipelines/{name}-{digest}/manifest.json` (each stage's one-line summary, task
id, directory and main files; the digest covers every stage's digest), sets the summary lines as
its status message (the visualiser shows them) and prints them with the paths of the outputs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

from harness.atomic import atomic_write
from harness.options import from_luigi, luigi_parameters, settings_of
from luigi_tasks.stage import StageTask

__all__ = ["Pipeline", "Stage", "stage_config", "stage_parameters", "stage_settings", "stage_summary"]

log = logging.getLogger("luigi-interface")


def stage_parameters(cls: type, prefix: str = "", *, exclude: Iterable[str] = (),
                     defaults: Mapping[str, Any] | None = None) -> type:
    """`luigi_parameters(cls)` with each parameter named `{prefix}{setting}`; a default given in
    `defaults` (the pipeline's demo size) is named in the parameter's description."""
    base = luigi_parameters(cls, exclude=exclude, defaults=defaults)
    named = f", named {prefix}*." if prefix else "."
    attrs: dict[str, Any] = {"__doc__": f"Luigi parameters of {cls.__name__}{named}"}
    for s in settings_of(cls):
        if s.name not in base.__dict__:
            continue
        param = base.__dict__[s.name]
        if defaults and s.name in defaults:
            shown = json.dumps(defaults[s.name]) if defaults[s.name] is not None else "none"
            own = s.default_text() + (f", given as {s.luigi_name} ''" if s.optional and s.default is None else "")
            description = f"{s.help} (This pipeline's default: {shown}; the stage's own: {own}.)"
            if s.required:  # luigi_parameters gives a required setting no default: make one
                if s.kind == "choice":
                    raise TypeError(f"{cls.__name__}.{s.name}: a required choice cannot take a pipeline default")
                param = type(param)(default=defaults[s.name], description=description, significant=s.content)
            param.description = description
        attrs[prefix + s.name] = param
    return type(f"{cls.__name__}{prefix.strip('_').title()}Parameters", (), attrs)


def stage_settings(cls: type, task: Any, prefix: str = "", *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The values of `cls`'s settings held by `task` under `prefix`, by setting name: the keyword
    arguments of a stage task built from a pipeline's parameters."""
    skip = set(exclude)
    return {s.name: getattr(task, prefix + s.name) for s in settings_of(cls)
            if s.name not in skip and hasattr(task, prefix + s.name)}


def stage_config(cls: type, task: Any, prefix: str = "", **overrides: Any) -> Any:
    """`cls` built from the settings `task` holds under `prefix` (and `overrides`)."""
    return from_luigi(cls, SimpleNamespace(**stage_settings(cls, task, prefix)), **overrides)


@dataclass(frozen=True)
class Stage:
    """One stage as a pipeline shows it: what it is, its task, and the files in its directory a
    user opens (shown under "outputs"; none: the directory)."""

    label: str
    task: StageTask
    files: tuple[str, ...] = ()


class Pipeline(StageTask):
    """The end of a pipeline's graph. Subclasses set `name` and implement `stages()`."""

    stage = "pipelines"
    config_class = type(None)
    name: ClassVar[str]

    def stages(self) -> list[Stage]:
        raise NotImplementedError

    def requires(self) -> list[StageTask]:
        return [s.task for s in self.stages()]

    def slug_parts(self) -> list[object]:
        return [self.name]

    def content(self) -> dict[str, Any]:
        return {}  # every setting is in some stage's digest, and those are upstream digests

    def run(self) -> None:
        entries = []
        for stage in self.stages():
            directory = stage.task.output_dir().absolute()
            files = [str(directory / f) for f in stage.files] or [str(directory)]
            entries.append({"stage": stage.label, "task": stage.task.task_id, "directory": str(directory),
                            "files": files, "summary": stage_summary(stage.task)})
        out = self.output_dir()
        out.mkdir(parents=True, exist_ok=True)
        with atomic_write(out / "manifest.json") as f:
            json.dump({"pipeline": self.get_task_family(), "task": self.task_id, "stages": entries}, f, indent=2)
            f.write("\n")
        width = max(len(e["stage"]) for e in entries)
        lines = [f"{e['stage']:<{width}}  {e['summary']}" for e in entries]
        self.set_status_message("\n".join(lines))
        self.set_progress_percentage(100)
        text = [f"{self.task_id}: done", *("  " + line for line in lines), "outputs:"]
        text += [f"  {e['stage']:<{width}}  {path}" for e in entries for path in e["files"]]
        text.append(f"this summary: {(out / 'manifest.json').absolute()}")
        print("\n".join(text), flush=True)
        log.info("%s", "\n".join(text))


def stage_summary(task: StageTask) -> str:
    """The one-line summary of a finished stage, read back from its manifest."""
    own = getattr(task, "summary", None)
    if callable(own):
        return own()
    manifest = json.loads(Path(task.output().path).read_text(encoding="utf-8"))
    directory = task.output_dir().absolute()
    if task.stage == "rollouts":
        from harness.engine.progress import run_summary

        return run_summary([{"counts": shard} for shard in manifest["shards"]], directory)
    report = manifest.get("report", {})
    if task.stage == "verified":
        from harness.verify import VerifyReport

        return f"{VerifyReport(**report).summary()} -> {directory}"
    if task.stage == "formatted":
        from harness.formats import FormatReport

        return FormatReport(**report).summary()
    if task.stage == "train":
        from harness.train import TrainReport

        return TrainReport(**report).summary()  # it ends with the weights' directory
    return f"done -> {directory}"
