"""Verifiers and the verify stage: judge episodes, and append each verdict to the episode.

A verifier is a plugin (`register_verifiers`) that judges whole episodes:

    class MyVerifier(Verifier):
        name = "my-checker"
        version = "1"

        def verify(self, episode: Episode) -> Verdict:
            ...
            return self.verdict("pass", score=1.0, details={...})

`verify_batch` judges many episodes at once (the default calls `verify` on each; verifiers with
a sandbox pool judge them in parallel). An episode a verifier cannot judge at all (another
environment's, no answer to check) raises `NotApplicable`; a verifier whose machinery failed
(the sandbox died) returns `no_verdict`, which is never a pass or a fail.

The verify stage (`verify_files`, `harness verify`, Luigi `VerifyRollouts`) reads episode
shards, appends each new verdict to `Episode.verification`, fires the `verdict_made` hook once
per verdict, and writes the episodes to the same file names in its output directory. An episode
that already has a verdict of this verifier's name and version is copied as it is, so a rerun
with a new verifier version re-verifies and an unchanged one does not. The stage resumes after
a crash (each output file grows by fsynced batches), counts `no_verdict` and says so at the end.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from harness.episode import Episode, Verdict, validate_episode
from harness.options import content_settings, setting

__all__ = [
    "NotApplicable",
    "NothingVerified",
    "Verifier",
    "VerifyConfig",
    "VerifyReport",
    "get_verifier",
    "verify_files",
]


class NotApplicable(ValueError):
    """The verifier cannot judge this episode at all (another environment's, no answer in it)."""


class NothingVerified(ValueError):
    """The stage judged nothing: no episodes, or none the verifier applies to."""


class Verifier(ABC):
    """Judges episodes. Subclasses set `name` and `version` and implement `verify`.

    `version` names the verifier's judging rules: bump it when a verdict could change, so the
    verify stage re-judges episodes it judged before."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"

    @abstractmethod
    def verify(self, episode: Episode) -> Verdict:
        """The verdict on one episode; raise `NotApplicable` for one it cannot judge."""

    def verify_batch(self, episodes: Sequence[Episode]) -> list[Verdict | NotApplicable]:
        """Verdicts (or the `NotApplicable` raised) for many episodes, in order."""
        out: list[Verdict | NotApplicable] = []
        for episode in episodes:
            try:
                out.append(self.verify(episode))
            except NotApplicable as exc:
                out.append(exc)
        return out

    def verdict(self, verdict: Literal["pass", "fail", "no_verdict"], *, score: float | None = None,
                details: dict[str, Any] | None = None) -> Verdict:
        """A `Verdict` signed with this verifier's name and version."""
        return Verdict(verifier=self.name, version=self.version, verdict=verdict, score=score,
                       details=details or {})

    def close(self) -> None:  # noqa: B027 - optional: a verifier may hold nothing
        """Release what the verifier holds (sandbox workers). Idempotent."""


def get_verifier(name: str, **args: Any) -> Verifier:
    """The registered verifier `name`, built with `args`."""
    from harness import plugins

    verifier = plugins.get("verifier", name)(**args)
    if not isinstance(verifier, Verifier):
        raise TypeError(f"verifier {name!r} ({type(verifier).__name__}) does not implement "
                        "harness.verify.Verifier")
    return verifier


@dataclass(frozen=True)
class VerifyConfig:
    """The settings of a verify stage."""

    verifier: str = setting(help="Verifier plugin: humaneval, mbpp, pytest, connections-rules, …")
    verifier_args: dict[str, Any] = setting(
        factory=dict, help="Arguments of the verifier, e.g. path=data/rlvr/mbpp_full.jsonl.")
    batch_size: int = setting(64, content=False, help="Episodes handed to the verifier at once.")
    allow_no_verdict: bool = setting(
        False, content=False,
        help="Succeed even when some episodes got no verdict (infrastructure failures).")

    def __post_init__(self) -> None:
        if not self.verifier:
            raise ValueError("verifier: a verifier name is required")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")


@dataclass
class VerifyReport:
    """What a verify stage did, counted over every episode it wrote."""

    verifier: str
    version: str
    outputs: list[str] = field(default_factory=list)
    episodes: int = 0
    judged: int = 0
    """Episodes judged by this run (the others had a verdict of this name and version)."""
    reused: int = 0
    passed: int = 0
    failed: int = 0
    no_verdict: int = 0
    not_applicable: int = 0
    seconds: float = 0.0
    judge_seconds: float = 0.0
    """Of `seconds`, those inside the verifier's `verify_batch` (the rest: reading, writing and
    syncing the files)."""

    def summary(self) -> str:
        return (f"{self.verifier} {self.version}: {self.episodes} episodes: {self.passed} pass, "
                f"{self.failed} fail, {self.no_verdict} no verdict, {self.not_applicable} not "
                f"applicable ({self.judged} judged now, {self.reused} judged before)")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def verify_files(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: VerifyConfig,
    *,
    verifier: Verifier | None = None,
    progress: bool = True,
) -> VerifyReport:
    """Verify every episode of `inputs` into `out_dir` (same file names), then write
    `out_dir/manifest.json` (the report and settings; written last, so it marks completion).

    Raises `NothingVerified` when the inputs hold no episode or the verifier applies to none;
    a run where some episodes got `no_verdict` raises it too unless `allow_no_verdict`, after
    writing every file (the verdicts that were made are kept)."""
    from harness import plugins
    from harness.engine.lock import Lock

    paths = [Path(p) for p in inputs]
    names = [p.name for p in paths]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"inputs share file names ({', '.join(duplicates)}): the outputs would "
                         "overwrite each other; verify them into separate directories")
    out = Path(out_dir)
    own = verifier is None
    verifier = verifier or get_verifier(config.verifier, **config.verifier_args)
    report = VerifyReport(verifier.name, verifier.version)
    started = time.perf_counter()
    hook = plugins.registry().hook
    lock = Lock(out / "verify.lock", what=f"the verified episodes in {out}")
    lock.acquire()  # a second verify of this directory stops here, naming the first
    try:
        for path in paths:
            target = out / path.name
            report.outputs.append(str(target))
            _verify_file(path, target, verifier, config, report, hook, progress)
    finally:
        lock.release()
        if own:
            verifier.close()
    report.seconds = time.perf_counter() - started
    if report.episodes == 0:
        raise NothingVerified(f"no episodes in {', '.join(map(str, paths)) or 'the inputs'}")
    if report.not_applicable == report.episodes:
        raise NothingVerified(
            f"{verifier.name} applies to none of the {report.episodes} episodes "
            f"(their environments: {', '.join(sorted(_envs(paths)))})")
    _write_manifest(out, report, config)
    if report.no_verdict and not config.allow_no_verdict:
        raise NothingVerified(
            f"{report.no_verdict} of {report.episodes} episodes got no verdict (infrastructure "
            f"failures; see each verdict's details); rerun, or pass --allow-no-verdict")
    return report


def _envs(paths: Sequence[Path]) -> set[str]:
    from harness import jsonl

    return {str(r.get("/env/name")) for r in jsonl.read([str(p) for p in paths], fields=["/env/name"])}


def _episodes(path: Path) -> Iterator[Episode]:
    from harness.episode import load_episodes

    yield from load_episodes(path)


def _verify_file(path: Path, target: Path, verifier: Verifier, config: VerifyConfig,
                 report: VerifyReport, hook: Any, progress: bool) -> None:
    """One input file → its output, appending fsynced batches to a partial file so a crash
    loses at most the batch in flight; a finished output is not redone."""
    from tqdm import tqdm

    from harness.atomic import new_file_mode

    if target.exists():
        for episode in _episodes(target):
            _count(report, episode.verdict(verifier.name), reused=True)
        return
    partial = target.with_name(f".{target.name}.partial")
    done = _complete_lines(partial)
    source = _episodes(path)
    bar = tqdm(desc=f"verify {path.name}", unit="ep", file=sys.stderr, disable=not progress,
               mininterval=0.5, dynamic_ncols=True)
    with open(partial, "a+b") as sink:
        os.chmod(partial, new_file_mode())
        sink.truncate(done["bytes"])
        sink.seek(done["bytes"])
        for index, episode in enumerate(itertools.islice(source, len(done["ids"]))):
            if episode.episode_id != done["ids"][index]:
                raise ValueError(f"{partial}: line {index + 1} is episode {done['ids'][index]}, but "
                                 f"{path} has {episode.episode_id} there: remove {partial}")
            _count(report, _last_verdict(done["records"][index], verifier), reused=True)
            bar.update(1)
        batch: list[Episode] = []
        for episode in source:
            batch.append(episode)
            if len(batch) >= config.batch_size:
                _judge(batch, verifier, report, hook, sink, bar)
                batch = []
        if batch:
            _judge(batch, verifier, report, hook, sink, bar)
    bar.close()
    os.replace(partial, target)


def _complete_lines(partial: Path) -> dict[str, Any]:
    """The episodes already written to a partial output (complete lines only)."""
    ids: list[str] = []
    records: list[dict[str, Any]] = []
    size = 0
    if partial.exists():
        with open(partial, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break  # a batch cut short by a kill: its tail is rewritten
                record = json.loads(line)
                ids.append(record["episode_id"])
                records.append(record)
                size += len(line)
    return {"ids": ids, "records": records, "bytes": size}


def _last_verdict(record: dict[str, Any], verifier: Verifier) -> Verdict | None:
    return validate_episode(record).verdict(verifier.name)


def _judge(batch: list[Episode], verifier: Verifier, report: VerifyReport, hook: Any,
           sink: Any, bar: Any) -> None:
    todo = [e for e in batch if not _has_current_verdict(e, verifier)]
    started = time.perf_counter()
    results = iter(verifier.verify_batch(todo) if todo else [])
    report.judge_seconds += time.perf_counter() - started
    lines = []
    for episode in batch:
        if not _has_current_verdict(episode, verifier):
            result = next(results)
            if isinstance(result, NotApplicable):
                report.not_applicable += 1
                report.episodes += 1
            else:
                episode = episode.model_copy(update={"verification": [*episode.verification, result]})
                hook.verdict_made(verdict=result.model_dump(mode="json", exclude_none=True),
                                  subject=episode.to_dict())
                _count(report, result, reused=False)
        else:
            _count(report, episode.verdict(verifier.name), reused=True)
        lines.append(episode.to_json_line())
        bar.update(1)
    sink.write(("\n".join(lines) + "\n").encode("utf-8"))
    sink.flush()
    os.fsync(sink.fileno())


def _has_current_verdict(episode: Episode, verifier: Verifier) -> bool:
    last = episode.verdict(verifier.name)
    return last is not None and last.version == verifier.version


def _count(report: VerifyReport, verdict: Verdict | None, *, reused: bool) -> None:
    report.episodes += 1
    if verdict is None:
        report.not_applicable += 1
        return
    if reused:
        report.reused += 1
    else:
        report.judged += 1
    if verdict.verdict == "pass":
        report.passed += 1
    elif verdict.verdict == "fail":
        report.failed += 1
    else:
        report.no_verdict += 1


def _write_manifest(out: Path, report: VerifyReport, config: VerifyConfig) -> None:
    from harness.atomic import atomic_write

    with atomic_write(out / "manifest.json") as f:
        json.dump({"report": report.to_dict(), "settings": content_settings(config)}, f,
                  indent=2, sort_keys=True)
        f.write("\n")
