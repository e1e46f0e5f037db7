"""luigi_tasks.stage: outputs addressed by the settings that decide them, readable task ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import luigi
from luigi.task_register import Register

from harness.options import luigi_parameters, setting
from luigi_tasks.stage import ImportedFile, StageTask, slug


@dataclass(frozen=True)
class CountConfig:
    word: str = setting(help="What to count.")
    times: int = setting(2, help="How many times.")
    batch: int = setting(8, content=False, help="Does not change the output.")


class Count(luigi_parameters(CountConfig), StageTask):  # type: ignore[misc]
    stage = "counts"
    config_class = CountConfig
    source = luigi.Parameter(default="")

    def requires(self):
        return ImportedFile(path=self.source) if self.source else []

    def slug_parts(self):
        return [self.word, self.times]

    def run(self) -> None:
        config = self.config()
        text = Path(self.source).read_text() if self.source else ""
        self.output_dir().mkdir(parents=True, exist_ok=True)
        with self.output().open("w") as f:
            json.dump({"word": config.word, "times": config.times, "source": text}, f)


class Double(luigi_parameters(CountConfig), StageTask):  # type: ignore[misc]
    stage = "doubles"
    config_class = CountConfig

    def requires(self):
        return Count(word=self.word, times=self.times, batch=self.batch, data_dir=self.data_dir)

    def slug_parts(self):
        return [self.word]

    def run(self) -> None:
        with self.input().open() as f:
            upstream = json.load(f)
        self.output_dir().mkdir(parents=True, exist_ok=True)
        with self.output().open("w") as f:
            json.dump({"double": upstream["times"] * 2}, f)


def test_paths_follow_content_settings(tmp_path: Path) -> None:
    a = Count(word="x", data_dir=str(tmp_path))
    assert a.output_dir().parent == tmp_path / "counts"
    assert a.output_dir().name.startswith("x,2-")
    assert Count(word="x", batch=99, data_dir=str(tmp_path)).output_dir() == a.output_dir()
    assert Count(word="x", times=3, data_dir=str(tmp_path)).output_dir() != a.output_dir()
    # a downstream stage moves when its upstream does
    assert Double(word="x", times=3).digest() != Double(word="x", times=2).digest()


def test_task_ids_are_readable() -> None:
    task = Double(word="Qwen/Qwen2.5-7B")
    assert task.task_id.startswith("Double(Qwen2.5-7B)-")
    assert hash(task) == hash(task.task_id)
    assert slug("a b", None, "", "x/y/") == "a-b,y"


def test_real_luigi_run_and_rerun(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("hello")
    task = Count(word="w", source=str(source), data_dir=str(tmp_path / "data"))
    assert luigi.build([task], local_scheduler=True, log_level="WARNING")
    assert json.loads(Path(task.output().path).read_text())["source"] == "hello"
    # the same settings are complete; a changed input file gives a new output
    assert Count(word="w", source=str(source), data_dir=str(tmp_path / "data")).complete()
    source.write_text("hello again, longer")
    Register.clear_instance_cache()  # Luigi keeps one instance per parameters in a process
    assert not Count(word="w", source=str(source), data_dir=str(tmp_path / "data")).complete()


def test_graph_runs_upstream_first(tmp_path: Path) -> None:
    task = Double(word="w", times=5, data_dir=str(tmp_path))
    assert luigi.build([task], local_scheduler=True, log_level="WARNING")
    assert json.loads(Path(task.output().path).read_text()) == {"double": 10}
    assert Count(word="w", times=5, data_dir=str(tmp_path)).complete()
