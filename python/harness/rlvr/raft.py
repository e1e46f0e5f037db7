"""RAFT cycles (seed 003): generate, verify in the sandbox, keep by policy, fine-tune, repeat.

    from harness.rlvr.raft import RaftConfig, raft
    report = raft(RaftConfig(problems="data/rlvr/mbpp_train_full.jsonl", cycles=3), "runs/raft")
    print(report.table())

Per cycle N, in the run directory (each stage is the harness's own, with its resume):

    cycle-N/samples/    `samples_per_task` completions per prompt: a rollout run of the `code`
                        environment (harness.engine), the model with cycle N-1's adapter loaded
    cycle-N/verified/   the samples with the verifier's verdict appended (harness.verify)
    cycle-N/kept/       rows.jsonl: the kept samples as prompt/completion rows (the loss is on the
                        completion only), and manifest.json (harness.rlvr.keep)
    cycle-N/train/      one epoch of LoRA (r 16, alpha 32, dropout 0.05, every linear layer) from
                        cycle N-1's adapter (harness.train): cycle N's adapter is train/adapter
    cycle-N/cycle.json  written last: the adapter the next cycle starts from, the cycle's stats

and `stats.json` / `stats.md` (a table: samples, pass rate, kept, prompts solved, training loss,
seconds per stage) for every cycle. `settings.json` records what decides the run's content; a
rerun with other settings is refused, a rerun with the same ones does only what is missing: a
finished stage is never redone, and a stage killed midway resumes inside itself (committed
generation chunks, verified batches, training checkpoints). `cycles` is not part of it: asking
for more cycles continues a finished run.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from harness.atomic import atomic_write, write_text_if_changed
from harness.embedded_model import DEFAULT_MODEL
from harness.options import content_settings, setting, settings_digest

__all__ = [
    "DATASET_VERIFIERS",
    "RaftConfig",
    "RaftError",
    "RaftReport",
    "RaftRun",
    "file_digest",
    "raft",
    "stats_table",
]

DATASET_VERIFIERS = {"humaneval": "humaneval", "mbpp": "mbpp", "pytest": "pytest"}
STAGES = ("generate", "verify", "keep", "train")
ProgressCallback = Callable[[int, "int | None", str], None]


class RaftError(ValueError):
    """A RAFT run that cannot go on as asked (other settings in its directory, nothing kept)."""


@dataclass(frozen=True)
class RaftConfig:
    """The settings of a RAFT run (`harness raft`, Luigi `RaftCycles`)."""

    problems: str | None = setting(None, help="Problem file whose prompts are trained on (required): a "
                                   "prepared *_full.jsonl (harness rlvr prepare), e.g. "
                                   "data/rlvr/mbpp_train_full.jsonl.")
    dataset: Literal["mbpp", "humaneval", "pytest"] = setting(
        "mbpp", help="What the problem file holds (the code environment's dataset).")
    tests: str | None = setting(None, help="Problem file the verifier reads the tests from; none: the "
                                "problems file (the seed's validation run: humaneval_full.jsonl beside "
                                "humaneval_validation.jsonl).")
    split: str | None = setting(None, help="Tasks of this split only; none: every split.")
    task_ids: list[str] | None = setting(None, help="Exactly these tasks, in this order; none: all.")
    limit: int | None = setting(None, help="The first N selected tasks only; none: all of them.")
    backend: str = setting("transformers", help="Backend that generates the samples (the current "
                           "adapter loaded): transformers or vllm.")
    model: str = setting(DEFAULT_MODEL, help="Base model, trained and sampled: the embedded default, a "
                         ".gguf file, a transformers directory (harness model export) or a hub id.")
    backend_args: dict[str, Any] = setting(factory=dict, help="Arguments of the backend, e.g. max_batch=64.")
    init_adapter: str | None = setting(None, help="Start cycle 1 from this LoRA adapter (an SFT run's) "
                                       "instead of the base model.")
    cycles: int = setting(3, content=False, help="RAFT cycles to have done (more continues a finished run).")
    samples_per_task: int = setting(4, help="Completions per prompt and cycle (the seed's samples_per_prompt).")
    temperature: float = setting(0.7, help="Sampling temperature.")
    top_p: float = setting(1.0, help="Nucleus sampling mass.")
    max_tokens: int = setting(1024, help="Most new tokens per completion.")
    stop: list[str] = setting(factory=list, help="Stop strings of the completions.")
    seed: int = setting(0, help="The run's seed: each cycle's sampling and training seeds derive from it.")
    system_prompt: str | None = setting(None, help="System prompt of the code environment; none: its own "
                                        "(\"You are an expert Python programmer. ...\").")
    env_args: dict[str, Any] = setting(factory=dict, help="More arguments of the code environment, e.g. "
                                       "isolation=strict, packages=[\"numpy\"].")
    num_shards: int = setting(1, help="Shards of each cycle's generation.")
    verifier: str | None = setting(None, help="Verifier plugin; none: the dataset's (mbpp, humaneval, pytest).")
    verifier_args: dict[str, Any] = setting(factory=dict, help="More arguments of the verifier.")
    timeout: float = setting(30.0, help="Seconds a sample's tests may run (the seed's 30).")
    keep_policy: Literal["passing", "seed"] = setting(
        "passing", help="passing: every passing sample, deduplicated per prompt; seed: seed 003's filter "
                        "(the top keep_top_percent of the samples with reward >= reward_threshold).")
    max_kept_per_task: int | None = setting(None, help="Policy passing: at most this many samples per "
                                            "prompt; none: no cap.")
    reward_threshold: float = setting(0.5, help="Policy seed: the lowest reward kept.")
    keep_top_percent: float = setting(50.0, help="Policy seed: the share of those kept, best first (%).")
    lora_r: int = setting(16, help="LoRA rank.")
    lora_alpha: int = setting(32, help="LoRA alpha.")
    lora_dropout: float = setting(0.05, help="Dropout on the LoRA branch.")
    epochs: float = setting(1.0, help="Passes over each cycle's kept samples.")
    max_steps: int | None = setting(None, help="Stop each cycle's training after this many optimizer steps; "
                                    "none: the epochs.")
    learning_rate: float = setting(1e-4, help="Peak learning rate.")
    batch_size: int = setting(4, help="Training rows per device per forward pass.")
    gradient_accumulation_steps: int = setting(4, help="Forward passes per optimizer step.")
    max_length: int | None = setting(2048, help="Tokens per training row (longer rows are cut at the end).")
    train_args: dict[str, Any] = setting(factory=dict, help="Other settings of harness train for every cycle, "
                                         "e.g. lr_scheduler=constant.")
    save_steps: int = setting(50, content=False, help="Training checkpoint every N optimizer steps (a killed "
                              "cycle resumes from the latest).")
    concurrency: int = setting(256, content=False, help="Live episodes at a time during generation.")
    verify_batch_size: int = setting(64, content=False, help="Samples handed to the verifier at once.")
    allow_empty: bool = setting(False, content=False, help="A cycle that keeps no sample trains nothing and "
                                "passes its adapter on, instead of stopping the run.")

    def __post_init__(self) -> None:
        from harness.rlvr.keep import POLICIES
        from harness.train.config import TrainConfig

        checks = [
            (bool(self.problems), "problems: a problem file is required (--problems, or problems in "
             "the configuration file's raft section)"),
            (self.cycles >= 1, "cycles must be at least 1"),
            (self.samples_per_task >= 1, "samples_per_task must be at least 1"),
            (self.max_tokens >= 1, "max_tokens must be at least 1"),
            (self.temperature >= 0, "temperature must be >= 0"),
            (self.limit is None or self.limit >= 1, "limit must be at least 1 (none: all tasks)"),
            (self.timeout > 0, "timeout must be above 0"),
            (self.keep_policy in POLICIES, f"keep_policy must be one of {', '.join(POLICIES)}"),
            (self.max_kept_per_task is None or self.max_kept_per_task >= 1, "max_kept_per_task must be at least 1"),
            (0 < self.keep_top_percent <= 100, "keep_top_percent must be in (0, 100]"),
            (self.save_steps >= 1, "save_steps must be at least 1"),
            (self.verify_batch_size >= 1, "verify_batch_size must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        train_fields = {f.name for f in fields(TrainConfig)}
        for key in self.train_args:
            if key not in train_fields or key in ("model", "init_adapter"):
                raise ValueError(f"train_args: {key!r} is not a setting of harness train that a RAFT cycle "
                                 "takes (the model and the adapter are the run's)")

    @property
    def verifier_name(self) -> str:
        return self.verifier or DATASET_VERIFIERS[self.dataset]


def file_digest(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes: a problem file's identity (a copy or a touch leaves it alone)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except FileNotFoundError:
        raise RaftError(f"{path}: no such problem file (prepare it: harness rlvr prepare)") from None
    return h.hexdigest()


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class RaftRun:
    """One RAFT run directory: its layout, identity and the stages of each cycle. Each stage
    method does its stage for one cycle unless it is done, and returns the seconds it ran (None
    when it was done already). The CLI runs them in order; the Luigi tasks one each."""

    def __init__(self, out_dir: str | os.PathLike[str], config: RaftConfig) -> None:
        self.out = Path(os.path.abspath(os.fspath(out_dir)))
        self.config = config
        self.problems = os.path.abspath(str(config.problems))
        self.tests = os.path.abspath(str(config.tests or config.problems))

    # -- identity -------------------------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        """What decides the run's content: its content settings (but `cycles`), of the backend
        arguments those the backend declares content (a batch size or a latency may change
        between reruns), and the problem files' bytes."""
        from harness import plugins
        from harness.engine.config import content_settings as rollout_content_settings

        settings = content_settings(self.config)
        for key in ("problems", "tests", "init_adapter"):  # one file, however its path is spelled
            if settings[key] is not None:
                settings[key] = os.path.abspath(settings[key])
        backend = plugins.get("backend", self.config.backend)
        settings["backend_args"] = rollout_content_settings(self.rollout_config(1), backend)["backend_args"]
        return {"settings": settings, "problems_sha256": file_digest(self.problems),
                "tests_sha256": file_digest(self.tests)}

    def digest(self) -> str:
        return settings_digest(self.identity())

    def check_settings(self) -> None:
        """Record the run's identity in settings.json, or refuse a directory holding another."""
        path = self.out / "settings.json"
        identity = self.identity()
        if path.exists():
            before = _read_json(path)
            if before != identity:
                changed = [f"{k}: {before.get('settings', {}).get(k)!r} -> {v!r}"
                           for k, v in identity["settings"].items() if before.get("settings", {}).get(k) != v]
                changed += [f"the file {k.removesuffix('_sha256')} changed" for k in ("problems_sha256", "tests_sha256")
                            if before.get(k) != identity[k]]
                raise RaftError(f"{self.out} holds a RAFT run with other settings ({'; '.join(changed)}); "
                                "use another output directory, or remove this one to start over")
            return
        write_text_if_changed(path, _json_text(identity))

    # -- layout --------------------------------------------------------------------------------

    def cycle_dir(self, n: int) -> Path:
        return self.out / f"cycle-{n}"

    def samples_dir(self, n: int) -> Path:
        return self.cycle_dir(n) / "samples"

    def verified_dir(self, n: int) -> Path:
        return self.cycle_dir(n) / "verified"

    def kept_dir(self, n: int) -> Path:
        return self.cycle_dir(n) / "kept"

    def train_dir(self, n: int) -> Path:
        return self.cycle_dir(n) / "train"

    def cycle_record(self, n: int) -> Path:
        return self.cycle_dir(n) / "cycle.json"

    def done(self, n: int) -> bool:
        return self.cycle_record(n).exists()

    def adapter_before(self, n: int) -> str | None:
        """The adapter cycle `n` samples with and trains from: cycle n-1's (none: the base model,
        or `init_adapter`)."""
        if n == 1:
            return os.path.abspath(self.config.init_adapter) if self.config.init_adapter else None
        record = self.cycle_record(n - 1)
        if not record.exists():
            raise RaftError(f"cycle {n} needs cycle {n - 1}, which is not finished ({record} is missing)")
        return _read_json(record)["adapter"]

    def cycle_seed(self, n: int) -> int:
        from harness.environment import derive_seed

        return derive_seed(self.config.seed, "raft-cycle", n) % 2**31

    # -- stage settings ------------------------------------------------------------------------

    def rollout_config(self, n: int) -> Any:
        from harness.engine import RolloutConfig

        c = self.config
        env_args: dict[str, Any] = {"dataset": c.dataset, "path": self.problems, "timeout": c.timeout, **c.env_args}
        if c.system_prompt is not None:
            env_args["system_prompt"] = c.system_prompt
        backend_args = dict(c.backend_args)
        adapter = self.adapter_before(n)
        if adapter is not None:
            backend_args["adapter"] = adapter
        return RolloutConfig(
            env="code", env_args=env_args, backend=c.backend, model=c.model, backend_args=backend_args,
            split=c.split, task_ids=c.task_ids, limit=c.limit, samples_per_task=c.samples_per_task,
            temperature=c.temperature, top_p=c.top_p, max_tokens=c.max_tokens, stop=list(c.stop),
            seed=self.cycle_seed(n), num_shards=c.num_shards, concurrency=c.concurrency)

    def verify_config(self) -> Any:
        from harness.verify import VerifyConfig

        args = {"path": self.tests, "timeout": self.config.timeout, **self.config.verifier_args}
        for key in ("isolation", "packages", "partial_credit"):  # the environment's sandbox, the verifier's too
            if key in self.config.env_args:
                args.setdefault(key, self.config.env_args[key])
        # no_verdict samples are counted in the stats and never kept; the run goes on.
        return VerifyConfig(verifier=self.config.verifier_name, verifier_args=args,
                            batch_size=self.config.verify_batch_size, allow_no_verdict=True)

    def train_config(self, n: int) -> Any:
        from harness.train.config import TrainConfig

        c = self.config
        return TrainConfig(**{
            "model": c.model, "method": "lora", "init_adapter": self.adapter_before(n), "lora_r": c.lora_r,
            "lora_alpha": c.lora_alpha, "lora_dropout": c.lora_dropout, "epochs": c.epochs,
            "max_steps": c.max_steps, "learning_rate": c.learning_rate, "batch_size": c.batch_size,
            "gradient_accumulation_steps": c.gradient_accumulation_steps, "max_length": c.max_length,
            "val_ratio": 0.0, "seed": self.cycle_seed(n), "save_steps": c.save_steps, **c.train_args})

    # -- the stages ----------------------------------------------------------------------------

    def _timed(self, n: int, stage: str, started: float) -> float:
        seconds = round(time.perf_counter() - started, 3)
        path = self.cycle_dir(n) / "times.json"
        times = _read_json(path) if path.exists() else {}
        times[stage] = seconds
        write_text_if_changed(path, _json_text(times))
        return seconds

    def generate(self, n: int, *, progress: bool = True) -> float | None:
        from harness.engine import generate

        out = self.samples_dir(n)
        if (out / "manifest.json").exists():
            return None
        started = time.perf_counter()
        generate(self.rollout_config(n), out, progress=progress)
        _free_accelerator()  # the next stage loads the model again: the backend's copy goes first
        return self._timed(n, "generate", started)

    def verify(self, n: int, *, verifier: Any = None, progress: bool = True) -> float | None:
        from harness.episode_files import episode_files
        from harness.verify import verify_files

        out = self.verified_dir(n)
        if (out / "manifest.json").exists():
            return None
        started = time.perf_counter()
        verify_files(episode_files([self.samples_dir(n)]), out, self.verify_config(), verifier=verifier,
                     progress=progress)
        return self._timed(n, "verify", started)

    def keep(self, n: int) -> float | None:
        from harness.engine.lock import Lock

        out = self.kept_dir(n)
        if (out / "manifest.json").exists():
            return None
        started = time.perf_counter()
        with Lock(out / "keep.lock", what=f"the kept samples of cycle {n}"):
            if not (out / "manifest.json").exists():
                self._keep(n, out)
        return self._timed(n, "keep", started)

    def _keep(self, n: int, out: Path) -> None:
        from harness.episode import load_episodes
        from harness.episode_files import episode_files
        from harness.formats.trainers import TrlPromptCompletion
        from harness.rlvr.keep import Judged, keep
        from harness_code.extract import extract_code
        from harness_code.problems import read_records

        c = self.config
        name = c.verifier_name
        order = {str(row.get("task_id")): i for i, (_, row) in enumerate(read_records(self.problems))}
        samples = []
        for episode in load_episodes(episode_files([self.verified_dir(n)])):
            verdict = episode.verdict(name)
            answer = episode.steps[-1].action if episode.steps else ""
            reward = verdict.score if verdict is not None and verdict.verdict != "no_verdict" else None
            samples.append(Judged(episode, verdict.verdict if verdict else None, reward, extract_code(answer)))
        samples.sort(key=lambda s: (order.get(str(s.episode.task.id), len(order)), s.episode.sample_index))
        kept = keep(samples, c.keep_policy, max_kept_per_task=c.max_kept_per_task,
                    reward_threshold=c.reward_threshold, keep_top_percent=c.keep_top_percent)
        tasks = {str(s.episode.task.id) for s in samples}
        solved = {str(s.episode.task.id) for s in samples if s.verdict == "pass"}
        report = {
            "samples": len(samples),
            "passed": sum(s.verdict == "pass" for s in samples),
            "failed": sum(s.verdict == "fail" for s in samples),
            "no_verdict": sum(s.verdict == "no_verdict" for s in samples),
            "not_judged": sum(s.verdict is None for s in samples),
            "kept": len(kept),
            "tasks": len(tasks),
            "tasks_solved": len(solved),
            "policy": c.keep_policy,
        }
        if not kept and not c.allow_empty:
            raise RaftError(
                f"cycle {n} kept 0 of {len(samples)} samples ({report['passed']} pass, {report['failed']} fail, "
                f"{report['no_verdict']} no verdict; policy {c.keep_policy}): nothing to train on. More samples "
                "or tokens per prompt, another policy, or --allow-empty (the cycle then trains nothing and "
                "passes its adapter on)")
        formatter = TrlPromptCompletion()
        with atomic_write(out / "rows.jsonl") as f:
            for sample in kept:
                f.write(json.dumps(formatter.row(sample.episode), ensure_ascii=False) + "\n")
        settings = {k: getattr(c, k) for k in ("keep_policy", "max_kept_per_task", "reward_threshold",
                                                 "keep_top_percent")}
        with atomic_write(out / "manifest.json") as f:
            f.write(_json_text({"report": report, "settings": settings, "verifier": name,
                                "kept": [s.episode.episode_id for s in kept]}))

    def train(self, n: int, *, progress: bool = True, on_progress: ProgressCallback | None = None) -> float | None:
        """Train cycle `n` (or pass the adapter on when it kept nothing), then write its record."""
        from harness.train import train

        if self.done(n):
            return None
        started = time.perf_counter()
        kept = _read_json(self.kept_dir(n) / "manifest.json")
        adapter, report = self.adapter_before(n), None
        if kept["report"]["kept"]:
            trained = train([self.kept_dir(n) / "rows.jsonl"], self.train_dir(n), self.train_config(n),
                            progress=progress, on_progress=on_progress)
            adapter, report = trained.weights, asdict(trained)
            _free_accelerator()
        seconds = self._timed(n, "train", started)
        self._write_record(n, adapter, report)
        return seconds

    def _write_record(self, n: int, adapter: str | None, train_report: dict[str, Any] | None) -> None:
        verified = _read_json(self.verified_dir(n) / "manifest.json")["report"]
        kept = _read_json(self.kept_dir(n) / "manifest.json")["report"]
        times_path = self.cycle_dir(n) / "times.json"
        times = _read_json(times_path) if times_path.exists() else {}
        judged = kept["passed"] + kept["failed"]
        stats = {
            "cycle": n,
            "samples": kept["samples"],
            "passed": kept["passed"],
            "no_verdict": kept["no_verdict"],
            "pass_rate": kept["passed"] / judged if judged else None,
            "kept": kept["kept"],
            "tasks": kept["tasks"],
            "tasks_solved": kept["tasks_solved"],
            "trained": train_report is not None,
            "train_steps": train_report["steps"] if train_report else 0,
            "first_loss": train_report["first_loss"] if train_report else None,
            "last_loss": train_report["last_loss"] if train_report else None,
            "seconds": {stage: times.get(stage) for stage in STAGES},
            "verifier": f"{verified['verifier']} {verified['version']}",
        }
        with atomic_write(self.cycle_record(n)) as f:
            f.write(_json_text({"cycle": n, "adapter": adapter, "started_from": self.adapter_before(n),
                                "stats": stats, "train": train_report}))

    def cycle_stats(self, n: int) -> dict[str, Any]:
        return dict(_read_json(self.cycle_record(n))["stats"])

    def run_cycle(self, n: int, *, verifier: Any = None, progress: bool = True,
                  say: Callable[[str], None] = lambda _: None) -> None:
        """Every stage of cycle `n` that is not done."""
        if self.done(n):
            return
        for stage, step in (("generate", lambda: self.generate(n, progress=progress)),
                            ("verify", lambda: self.verify(n, verifier=verifier, progress=progress)),
                            ("keep", lambda: self.keep(n)),
                            ("train", lambda: self.train(n, progress=progress))):
            seconds = step()
            if seconds is not None:
                say(f"cycle {n}: {stage} done in {seconds:.1f} s")

    def write_stats(self, cycles: int) -> RaftReport:
        """stats.json and stats.md of cycles 1..`cycles` (each must be done)."""
        report = RaftReport(str(self.out), [self.cycle_stats(n) for n in range(1, cycles + 1)],
                            self.adapter_before(cycles + 1))
        write_text_if_changed(self.out / "stats.json", _json_text(
            {"run": str(self.out), "adapter": report.adapter, "cycles": report.cycles}))
        write_text_if_changed(self.out / "stats.md", report.table() + "\n")
        return report


@dataclass
class RaftReport:
    """The stats of a run's cycles and its last adapter."""

    run: str
    cycles: list[dict[str, Any]] = field(default_factory=list)
    adapter: str | None = None

    def table(self) -> str:
        return stats_table(self.cycles)

    def summary(self) -> str:
        last = self.cycles[-1] if self.cycles else {}
        rate = last.get("pass_rate")
        return (f"{len(self.cycles)} RAFT cycles; cycle {last.get('cycle')}: "
                f"{'-' if rate is None else f'{rate:.1%}'} pass, {last.get('kept')} kept, "
                f"{last.get('tasks_solved')}/{last.get('tasks')} prompts solved; adapter {self.adapter}")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def stats_table(cycles: list[dict[str, Any]]) -> str:
    """The per-cycle stats as a Markdown table."""
    head = ("| cycle | samples | pass rate | no verdict | kept | prompts solved | training loss | steps | "
            "generate s | verify s | keep s | train s |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for c in cycles:
        rate = "-" if c["pass_rate"] is None else f"{c['pass_rate']:.1%}"
        if not c["trained"]:
            loss = "not trained (kept nothing)"
        elif c["first_loss"] is None or c["last_loss"] is None:
            loss = "-"
        else:
            loss = f"{c['first_loss']:.3f} -> {c['last_loss']:.3f}"
        s = c["seconds"]
        rows.append(f"| {c['cycle']} | {c['samples']} | {rate} | {c['no_verdict']} | {c['kept']} | "
                    f"{c['tasks_solved']}/{c['tasks']} | {loss} | {c['train_steps']} | {_seconds(s.get('generate'))} | "
                    f"{_seconds(s.get('verify'))} | {_seconds(s.get('keep'))} | {_seconds(s.get('train'))} |")
    return "\n".join(rows)


def _free_accelerator() -> None:
    """Give the memory of a model that is gone back (on a GPU the next stage needs it)."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def raft(config: RaftConfig, out_dir: str | os.PathLike[str], *, progress: bool = True,
         say: Callable[[str], None] = lambda _: None) -> RaftReport:
    """Every cycle up to `config.cycles` that is not done, then the stats (see the module
    docstring). One process at a time per run directory (a second stops, naming the first).
    The verifier (and so its sandbox pool) is made once and serves every cycle."""
    from harness.engine.lock import Lock
    from harness.verify import get_verifier

    run = RaftRun(out_dir, config)
    lock = Lock(run.out / "raft.lock", what="this RAFT run")
    lock.acquire()
    verifier = None
    try:
        run.check_settings()
        for n in range(1, config.cycles + 1):
            if run.done(n):
                continue
            if verifier is None:
                vc = run.verify_config()
                verifier = get_verifier(vc.verifier, **vc.verifier_args)
            say(f"cycle {n} of {config.cycles}")
            run.run_cycle(n, verifier=verifier, progress=progress, say=say)
        return run.write_stats(config.cycles)
    finally:
        if verifier is not None:
            verifier.close()
        lock.release()

