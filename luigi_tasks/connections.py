"""Luigi tasks of seed 001's pipeline (harness.doctor): the loop, then the SFT file.

    luigi --module luigi_tasks.connections ConnectionsSFT --loops 3 --results-dir data/results \
        --env-args '{"puzzles": "nyt.json"}' --backend vllm --model Qwen/Qwen2.5-7B-Instruct --local-scheduler

- `ConnectionsLoop` takes the results directory through `--loops` loops in all (its journal,
  loops.json, counts those done; harness.doctor.loop) and writes the seed's filter over it:
  `data/connections_loop/{slug}-{digest}/good_examples.jsonl`, `bad_examples.jsonl`;
- `ConnectionsSFT` reduces the tokens of the good examples with the same backend (unless
  `--reduce false`) and collates them: `data/connections_sft/{slug}-{digest}/sft_examples.jsonl`.

The per-loop statistics (stats.json, stats.md, good_per_loop.png) go to the results directory.
"""

from __future__ import annotations

import hashlib
import json
import os

import luigi

from harness.atomic import atomic_write
from harness.doctor.collate import collate_files
from harness.doctor.loop import LoopConfig, run_loops, write_examples
from harness.doctor.reduce import ReduceConfig, reduce_rows
from harness.options import content_settings, luigi_parameters
from luigi_tasks.stage import StageTask


class LoopParameters(luigi_parameters(LoopConfig, exclude=("dry_run",))):  # type: ignore[misc]
    results_dir = luigi.Parameter(default="data/connections/results",
                                  description="Directory of results_N.jsonl files; new results are added to it.")

    def results_digest(self) -> str:
        return hashlib.sha256(os.path.abspath(self.results_dir).encode()).hexdigest()[:10]


def _loop_names() -> list[str]:
    from harness.options import settings_of

    return [s.name for s in settings_of(LoopConfig) if s.name != "dry_run"]


class ConnectionsLoop(LoopParameters, StageTask):
    """The results directory through N loops in all; the good and bad examples."""

    stage = "connections_loop"
    config_class = LoopConfig

    def slug_parts(self) -> list[object]:
        return [self.backend, self.model, f"{self.loops}loops"]

    def upstream_digests(self) -> list[str]:
        return [self.results_digest()]

    def run(self) -> None:
        config = self.config()
        messages: list[str] = []

        def say(line: str) -> None:
            print(line, flush=True)
            messages.append(line)
            self.set_status_message("\n".join(messages[-8:]))
            if line.startswith("Loop "):  # "Loop k: ...": k of the loops asked for has started
                self.set_progress_percentage(round(100 * (int(line.split()[1].rstrip(":")) - 1) / config.loops, 1))

        loops = run_loops(self.results_dir, config, say=say, progress=False)
        examples = write_examples(self.results_dir, self.output_dir(), config)
        say(examples.summary())
        with atomic_write(self.output().path) as f:
            json.dump({"report": {"loop": loops.summary(), "examples": examples.summary()},
                       "settings": content_settings(config), "results_dir": os.path.abspath(self.results_dir)},
                      f, indent=2, sort_keys=True)
            f.write("\n")


class ConnectionsSFT(LoopParameters, StageTask):
    """The final SFT file: the loop's good examples, reduced, collated."""

    stage = "connections_sft"
    config_class = LoopConfig
    reduce = luigi.BoolParameter(default=True, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
                                 description="Reduce tokens with the loop's backend before collating.")
    retries = luigi.IntParameter(default=2, significant=False, description="Times a failed rewrite is asked again.")

    def requires(self) -> ConnectionsLoop:
        return ConnectionsLoop(**{name: getattr(self, name) for name in [*_loop_names(), "results_dir", "data_dir"]})

    def slug_parts(self) -> list[object]:
        return [self.backend, self.model, f"{self.loops}loops"]

    def upstream_digests(self) -> list[str]:
        return [*super().upstream_digests(), "reduce" if self.reduce else "no-reduce"]

    def reduce_config(self) -> ReduceConfig:
        loop = self.config()
        return ReduceConfig(backend=loop.backend, model=loop.model, backend_args=loop.backend_args,
                            tokenizer=loop.tokenizer, seed=loop.seed, retries=self.retries)

    def run(self) -> None:
        out = self.output_dir()
        good = os.path.join(self.input().path.rsplit(os.sep, 1)[0], "good_examples.jsonl")
        source = good
        reduced = None
        if self.reduce:
            with open(good, encoding="utf-8") as f:
                rows = [json.loads(line) for line in f if line.strip()]
            self.set_status_message(f"reducing {len(rows)} examples")
            reduced = reduce_rows(rows, out / "reduced.jsonl", self.reduce_config())
            print(reduced.summary(), flush=True)
            source = str(out / "reduced.jsonl")
        collated = collate_files([source], out / "sft_examples.jsonl")
        for line in collated.lines():
            print(line, flush=True)
        self.set_status_message(collated.summary())
        with atomic_write(self.output().path) as f:
            json.dump({"reduce": reduced.to_dict() if reduced is not None else None, "collate": collated.to_dict(),
                       "settings": content_settings(self.config())}, f, indent=2, sort_keys=True)
            f.write("\n")
