"""Luigi tasks of RLVR: prepare the datasets, then benchmark pass@k across checkpoints.

    luigi --module luigi_tasks.rlvr PassAtK --output-dir data/rlvr --mbpp-path mbpp.jsonl \
        --checkpoints '{"base": {"backend": "vllm", "args": {"model": "..."}}}' --local-scheduler
"""

from __future__ import annotations

import json
from pathlib import Path

import luigi

from harness.rlvr import benchmark, prepare


class PrepareRLVR(luigi.Task):
    """`python -m harness.rlvr.prepare` as a task; complete when dataset_summary.json exists
    (it is written last)."""

    output_dir = luigi.Parameter(default="data/rlvr")
    dataset = luigi.ChoiceParameter(choices=["humaneval", "mbpp", "both"], default="both")
    validation_size = luigi.IntParameter(default=20)
    source = luigi.ChoiceParameter(choices=["auto", "hub", "local"], default="auto")
    humaneval_path = luigi.OptionalParameter(default=None)
    mbpp_path = luigi.OptionalParameter(default=None)
    mbpp_sanitized_path = luigi.OptionalParameter(default=None)
    mbpp_example = luigi.BoolParameter(default=True, parsing=luigi.BoolParameter.EXPLICIT_PARSING)

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(Path(self.output_dir) / "dataset_summary.json"))

    def run(self) -> None:
        prepare.prepare(self.output_dir, self.dataset, self.validation_size, source=self.source,
                        humaneval_path=self.humaneval_path, mbpp_path=self.mbpp_path,
                        mbpp_sanitized_path=self.mbpp_sanitized_path,
                        mbpp_example=self.mbpp_example)


class PassAtK(luigi.Task):
    """pass@k of each checkpoint on a prepared problem file: `{report}.json` and `{report}.png`."""

    output_dir = luigi.Parameter(default="data/rlvr")
    problems = luigi.Parameter(default="humaneval_full.jsonl",
                               description="file name inside output_dir")
    verifier = luigi.Parameter(default="humaneval")
    checkpoints = luigi.DictParameter(description='{label: {"backend": name, "args": {...}}}')
    n = luigi.IntParameter(default=10)
    temperature = luigi.FloatParameter(default=0.7)
    ks = luigi.ListParameter(default=[1, 5, 10])
    max_tokens = luigi.IntParameter(default=1024)
    report = luigi.Parameter(default="passk", description="report name (without extension)")
    source = luigi.ChoiceParameter(choices=["auto", "hub", "local"], default="auto")
    mbpp_path = luigi.OptionalParameter(default=None)

    def requires(self) -> PrepareRLVR:
        dataset = "mbpp" if self.problems.startswith("mbpp") else "humaneval"
        return PrepareRLVR(output_dir=self.output_dir, dataset=dataset, source=self.source,
                           mbpp_path=self.mbpp_path)

    def output(self) -> dict[str, luigi.LocalTarget]:
        base = Path(self.output_dir) / self.report
        return {"json": luigi.LocalTarget(f"{base}.json"), "png": luigi.LocalTarget(f"{base}.png")}

    def run(self) -> None:
        from harness import plugins

        path = str(Path(self.output_dir) / self.problems)
        problems = benchmark.load_problems(path)
        verifier = plugins.get("verifier", self.verifier)(path)
        specs = json.loads(json.dumps(self.checkpoints, default=dict))
        report = benchmark.run_benchmark(
            benchmark.build_checkpoints(specs), problems, verifier, n=self.n,
            temperature=self.temperature, ks=list(self.ks), max_tokens=self.max_tokens,
        )
        # Both writes are atomic; a crash between them leaves the JSON missing, so the task reruns.
        benchmark.plot_report(report, self.output()["png"].path)
        benchmark.write_report(report, self.output()["json"].path)
