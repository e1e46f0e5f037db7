"""pass@k across checkpoints: the base model, an optional SFT adapter and each RAFT cycle's adapter,
N samples per problem each, verified in the sandbox; a table, a JSON report and a PNG chart.

    from harness.rlvr.checkpoints import PassAtKConfig, pass_at_k_across, raft_checkpoints
    config = PassAtKConfig(problems="data/rlvr/humaneval_full.jsonl")
    report = pass_at_k_across(raft_checkpoints("runs/raft", config), "runs/passk", config)

For each checkpoint, in the output directory:

    {label}/samples/    `samples_per_task` completions per problem: a rollout run of the `code`
                        environment (harness.engine; it resumes after a crash)
    {label}/verified/   the verify stage's verdicts (harness.verify)

then `passk.json` (per checkpoint: pass@k for each k <= n, the samples, the `no_verdict` count and
per problem n and c), `passk.md` (the table), `passk.png` (pass@k per checkpoint, one line per k)
and `manifest.json`, written last. A sample whose verification ended in `no_verdict` (an
infrastructure failure) is left out of its problem's n and counted, never scored as a fail (a
problem left with no judged sample is left out of the mean, and counted); pass@k is reported for
a k only when every problem in the mean has n >= k. A run with any `no_verdict` says so and fails
at the end unless `allow_no_verdict` (the files are written).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.atomic import write_text_if_changed
from harness.options import content_settings, setting

__all__ = [
    "Checkpoint",
    "NoVerdicts",
    "PassAtKConfig",
    "parse_checkpoint",
    "pass_at_k_across",
    "passk_table",
    "raft_checkpoints",
]

DEFAULT_KS = (1, 5, 10)
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


class NoVerdicts(RuntimeError):
    """Some samples got no verdict (infrastructure failures): pass@k stands on fewer samples."""


@dataclass(frozen=True)
class PassAtKConfig:
    """The settings of pass@k across checkpoints (`harness rlvr passk`, Luigi `PassAtK`,
    `PassAtKAcrossCheckpoints`)."""

    problems: str = setting("data/rlvr/humaneval_full.jsonl", help="Problem file of the benchmark (a "
                            "prepared *_full.jsonl).")
    dataset: Literal["humaneval", "mbpp", "pytest"] = setting("humaneval", help="What the problem file holds.")
    split: str | None = setting(None, help="Problems of this split only; none: every split.")
    task_ids: list[str] | None = setting(None, help="Exactly these problems, in this order; none: all.")
    limit: int | None = setting(None, help="The first N selected problems only; none: all of them.")
    backend: str | None = setting(None, help="Backend of every checkpoint; none: the RAFT run's, else transformers.")
    model: str | None = setting(None, help="Base model; none: the RAFT run's, else the embedded default.")
    backend_args: dict[str, Any] = setting(factory=dict, help="Arguments of the backend (the RAFT run's too).")
    sft_adapter: str | None = setting(None, help="An SFT adapter measured after the base model (label sft).")
    samples_per_task: int = setting(10, help="Samples per problem (n).")
    ks: list[int] | None = setting(None, metavar="K", help="The k of pass@k; none: 1, 5 and 10. Only k <= n "
                                   "is reported.")
    temperature: float = setting(0.7, help="Sampling temperature; 0 is greedy.")
    top_p: float = setting(1.0, help="Nucleus sampling mass.")
    max_tokens: int = setting(1024, help="Most new tokens per sample.")
    stop: list[str] = setting(factory=list, help="Stop strings of the samples.")
    seed: int = setting(0, help="Seed of the sampling (the same for every checkpoint).")
    system_prompt: str | None = setting(None, help="System prompt of the code environment; none: its own.")
    env_args: dict[str, Any] = setting(factory=dict, help="More arguments of the code environment.")
    verifier: str | None = setting(None, help="Verifier plugin; none: the dataset's.")
    verifier_args: dict[str, Any] = setting(factory=dict, help="More arguments of the verifier.")
    timeout: float = setting(30.0, help="Seconds a sample's tests may run.")
    concurrency: int = setting(256, content=False, help="Live episodes at a time during generation.")
    verify_batch_size: int = setting(64, content=False, help="Samples handed to the verifier at once.")
    allow_no_verdict: bool = setting(False, content=False, help="Succeed even when some samples got no "
                                     "verdict (infrastructure failures, left out of n).")

    def __post_init__(self) -> None:
        try:
            ks = sorted({int(k) for k in (self.ks or DEFAULT_KS)})
        except (TypeError, ValueError):
            raise ValueError(f"ks: expected whole numbers, got {self.ks!r}") from None
        object.__setattr__(self, "ks", ks)  # the command line gives text
        checks = [
            (bool(ks) and ks[0] >= 1, "ks must hold numbers of at least 1"),
            (self.samples_per_task >= 1, "samples_per_task must be at least 1"),
            (any(k <= self.samples_per_task for k in ks), f"no k of {ks} is <= samples_per_task "
             f"{self.samples_per_task}: nothing would be reported"),
            (self.max_tokens >= 1, "max_tokens must be at least 1"),
            (self.temperature >= 0, "temperature must be >= 0"),
            (self.limit is None or self.limit >= 1, "limit must be at least 1 (none: all problems)"),
            (self.timeout > 0, "timeout must be above 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def verifier_name(self) -> str:
        from harness.rlvr.raft import DATASET_VERIFIERS

        return self.verifier or DATASET_VERIFIERS[self.dataset]


@dataclass(frozen=True)
class Checkpoint:
    """A model to measure: a base model, with a LoRA adapter or not."""

    label: str
    model: str
    adapter: str | None = None
    backend: str = "transformers"
    backend_args: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not _LABEL.match(self.label):
            raise ValueError(f"checkpoint label {self.label!r}: use letters, digits, '.', '_', '+', '-' "
                             "(it names a directory)")

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "model": self.model, "adapter": self.adapter, "backend": self.backend,
                "backend_args": dict(self.backend_args)}


def _base(config: PassAtKConfig, run_settings: dict[str, Any] | None) -> tuple[str, str, dict[str, Any]]:
    from harness.embedded_model import DEFAULT_MODEL

    run = run_settings or {}
    backend = config.backend or run.get("backend") or "transformers"
    model = config.model or run.get("model") or DEFAULT_MODEL
    return backend, model, {**run.get("backend_args", {}), **config.backend_args}


def raft_checkpoints(run_dir: str | os.PathLike[str] | None, config: PassAtKConfig,
                     extra: Sequence[tuple[str, str]] = ()) -> list[Checkpoint]:
    """The checkpoints to measure, in order: the base model; `sft` (the config's `sft_adapter`, or
    the adapter the RAFT run started from); each finished cycle of the RAFT run `run_dir`
    (`cycle-N`, its adapter); then `extra` (label, adapter directory or model)."""
    settings = None
    cycles: list[tuple[int, str | None]] = []
    if run_dir is not None:
        run = Path(run_dir)
        try:
            settings = json.loads((run / "settings.json").read_text(encoding="utf-8"))["settings"]
        except FileNotFoundError:
            raise ValueError(f"{run}: not a RAFT run directory (no settings.json)") from None
        for record in run.glob("cycle-*/cycle.json"):
            n = int(record.parent.name.removeprefix("cycle-"))
            cycles.append((n, json.loads(record.read_text(encoding="utf-8"))["adapter"]))
        if not cycles:
            raise ValueError(f"{run}: the RAFT run has no finished cycle")
    backend, model, args = _base(config, settings)
    frozen = tuple(sorted(args.items()))
    out = [Checkpoint("base", model, None, backend, frozen)]
    sft = config.sft_adapter or (settings or {}).get("init_adapter")
    if sft:
        out.append(Checkpoint("sft", model, os.path.abspath(sft), backend, frozen))
    out += [Checkpoint(f"cycle-{n}", model, adapter, backend, frozen) for n, adapter in sorted(cycles)]
    for label, target in extra:
        is_adapter = os.path.isfile(os.path.join(target, "adapter_config.json"))
        out.append(Checkpoint(label, model if is_adapter else target,
                              os.path.abspath(target) if is_adapter else None, backend, frozen))
    labels = [c.label for c in out]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise ValueError(f"checkpoint labels {', '.join(twice)} are given twice")
    return out


def parse_checkpoint(text: str) -> tuple[str, str]:
    """`LABEL=PATH` (an adapter directory, a model directory or a hub id) -> (label, path)."""
    label, sep, target = text.partition("=")
    if not sep or not label or not target:
        raise ValueError(f"--checkpoint: expected LABEL=PATH (an adapter or model), got {text!r}")
    return label, target


def _rollout_config(config: PassAtKConfig, checkpoint: Checkpoint) -> Any:
    from harness.engine import RolloutConfig

    env_args: dict[str, Any] = {"dataset": config.dataset, "path": os.path.abspath(config.problems),
                                "timeout": config.timeout, **config.env_args}
    if config.system_prompt is not None:
        env_args["system_prompt"] = config.system_prompt
    backend_args = dict(checkpoint.backend_args)
    if checkpoint.adapter is not None:
        backend_args["adapter"] = checkpoint.adapter
    return RolloutConfig(
        env="code", env_args=env_args, backend=checkpoint.backend, model=checkpoint.model,
        backend_args=backend_args, split=config.split, task_ids=config.task_ids, limit=config.limit,
        samples_per_task=config.samples_per_task, temperature=config.temperature, top_p=config.top_p,
        max_tokens=config.max_tokens, stop=list(config.stop), seed=config.seed, concurrency=config.concurrency)


def _verify_config(config: PassAtKConfig) -> Any:
    from harness.verify import VerifyConfig

    args = {"path": os.path.abspath(config.problems), "timeout": config.timeout, **config.verifier_args}
    for key in ("isolation", "packages", "partial_credit"):
        if key in config.env_args:
            args.setdefault(key, config.env_args[key])
    return VerifyConfig(verifier=config.verifier_name, verifier_args=args, batch_size=config.verify_batch_size,
                        allow_no_verdict=True)


def _score(verified: Path, config: PassAtKConfig, checkpoint: Checkpoint) -> dict[str, Any]:
    from harness.episode import load_episodes
    from harness.episode_files import episode_files
    from harness.rlvr.passk import mean_pass_at_k

    per_task: dict[str, dict[str, Any]] = {}
    for episode in load_episodes(episode_files([verified])):
        row = per_task.setdefault(str(episode.task.id), {"task_id": episode.task.id, "n": 0, "c": 0,
                                                          "no_verdict": 0})
        verdict = episode.verdict(config.verifier_name)
        if verdict is None or verdict.verdict == "no_verdict":
            row["no_verdict"] += 1
        else:
            row["n"] += 1
            row["c"] += verdict.verdict == "pass"
    from harness_code.problems import read_records

    order = {str(row.get("task_id")): i for i, (_, row) in enumerate(read_records(config.problems))}
    rows = sorted(per_task.values(), key=lambda r: order.get(str(r["task_id"]), len(order)))
    # A problem none of whose samples was judged tells nothing: it is left out (and counted).
    counts = [(r["n"], r["c"]) for r in rows if r["n"]]
    pass_at_k = {}
    for k in config.ks or DEFAULT_KS:  # a list once constructed (__post_init__)
        value = mean_pass_at_k(counts, k)
        if value is not None:
            pass_at_k[f"pass@{k}"] = value
    return {**checkpoint.to_dict(), "pass_at_k": pass_at_k, "samples": sum(r["n"] + r["no_verdict"] for r in rows),
            "no_verdict": sum(r["no_verdict"] for r in rows),
            "problems_without_verdict": sum(not r["n"] for r in rows), "problems": rows}


def passk_table(report: dict[str, Any]) -> str:
    """pass@k per checkpoint as a Markdown table."""
    keys = [f"pass@{k}" for k in report["ks"] if k <= report["n"]]
    lines = ["| checkpoint | " + " | ".join(keys) + " | samples | no verdict |",
             "|---|" + "---|" * (len(keys) + 2)]
    for c in report["checkpoints"]:
        values = [f"{c['pass_at_k'][k]:.3f}" if k in c["pass_at_k"] else "-" for k in keys]
        lines.append(f"| {c['label']} | " + " | ".join(values) + f" | {c['samples']} | {c['no_verdict']} |")
    return "\n".join(lines)


def pass_at_k_across(checkpoints: Sequence[Checkpoint], out_dir: str | os.PathLike[str], config: PassAtKConfig, *,
                     progress: bool = True, say: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Measure every checkpoint into `out_dir` (see the module docstring) and return the report.
    Checkpoints already sampled or verified are not redone; a rerun that finds everything done
    rewrites no file. Raises `NoVerdicts` at the end when some samples got no verdict, unless
    `allow_no_verdict`."""
    from harness.engine import generate
    from harness.engine.lock import Lock
    from harness.episode_files import episode_files
    from harness.rlvr.benchmark import plot_report
    from harness.rlvr.raft import _free_accelerator, file_digest
    from harness.verify import get_verifier, verify_files

    if not checkpoints:
        raise ValueError("no checkpoint to measure")
    out = Path(os.path.abspath(os.fspath(out_dir)))
    lock = Lock(out / "passk.lock", what="this pass@k run")
    lock.acquire()
    verifier = None
    try:
        identity = {"settings": content_settings(config), "problems_sha256": file_digest(config.problems)}
        _check_identity(out, identity)
        rows = []
        for checkpoint in checkpoints:
            samples, verified = out / checkpoint.label / "samples", out / checkpoint.label / "verified"
            if not (samples / "manifest.json").exists():
                say(f"{checkpoint.label}: sampling {config.samples_per_task} per problem")
                generate(_rollout_config(config, checkpoint), samples, progress=progress)
                _free_accelerator()
            if not (verified / "manifest.json").exists():
                if verifier is None:
                    vc = _verify_config(config)
                    verifier = get_verifier(vc.verifier, **vc.verifier_args)
                verify_files(episode_files([samples]), verified, _verify_config(config), verifier=verifier,
                             progress=progress)
            rows.append(_score(verified, config, checkpoint))
        report = {"problems": len(rows[0]["problems"]), "n": config.samples_per_task, "ks": config.ks,
                  "temperature": config.temperature, "max_tokens": config.max_tokens, "seed": config.seed,
                  "verifier": config.verifier_name, "problem_file": os.path.abspath(config.problems),
                  "checkpoints": rows}
        text = json.dumps(report, indent=2) + "\n"
        if not (out / "passk.png").exists() or not _same(out / "passk.json", text):
            plot_report(report, out / "passk.png")
        write_text_if_changed(out / "passk.json", text)
        write_text_if_changed(out / "passk.md", passk_table(report) + "\n")
        no_verdict = sum(c["no_verdict"] for c in rows)
        write_text_if_changed(out / "manifest.json", json.dumps(
            {"report": {"checkpoints": [c["label"] for c in rows], "no_verdict": no_verdict},
             **identity, "checkpoints": [c.to_dict() for c in checkpoints]}, indent=2, sort_keys=True) + "\n")
        if no_verdict and not config.allow_no_verdict:
            raise NoVerdicts(f"{no_verdict} samples got no verdict (infrastructure failures; left out of n, "
                             f"see {out / 'passk.json'}); rerun, or pass --allow-no-verdict")
        return report
    finally:
        if verifier is not None:
            verifier.close()
        lock.release()


def _same(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") == text
    except FileNotFoundError:
        return False


def _check_identity(out: Path, identity: dict[str, Any]) -> None:
    path = out / "settings.json"
    if path.exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        if before != identity:
            changed = [f"{k}: {before['settings'].get(k)!r} -> {v!r}" for k, v in identity["settings"].items()
                       if before.get("settings", {}).get(k) != v]
            if before.get("problems_sha256") != identity["problems_sha256"]:
                changed.append("the problem file changed")
            raise ValueError(f"{out} holds a pass@k run with other settings ({'; '.join(changed)}); use "
                             "another output directory, or remove this one")
        return
    write_text_if_changed(path, json.dumps(identity, indent=2, sort_keys=True) + "\n")
