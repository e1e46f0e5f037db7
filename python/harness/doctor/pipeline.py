"""Seed 001 end to end: loops, examples, token reduction, collation (`harness doctor loop`).

One backend serves the loops and, when the reduction names the same one, the reduction: it is
made when first needed (a rerun with nothing left to generate loads no model).

    report = connections_sft("results/", "results/sft/", LoopConfig(loops=3, ...), ReduceConfig(...))

1. `run_loops`: the results directory through `loops` loops (harness.doctor.loop);
2. `write_examples`: the seed's filter over everything, `good_examples.jsonl` / `bad_examples.jsonl`;
3. `reduce_rows` (unless `reduce` is None): `reduced.jsonl`, the good examples within the token limits;
4. `collate_files`: `sft_examples.jsonl`, the final rows, and the figures printed.

`manifest.json` (every step's report and the settings) is written last. Each step resumes on
its own, so a rerun after a crash or kill -9 gives the same files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write
from harness.doctor.collate import collate_files
from harness.doctor.loop import LoopConfig, run_loops, write_examples
from harness.doctor.reduce import ReduceConfig, reduce_rows
from harness.options import content_settings

SFT = "sft_examples.jsonl"


def connections_sft(
    results_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    loop: LoopConfig,
    reduce: ReduceConfig | None,
    *,
    backend: Any = None,
    say: Callable[[str], None] = print,
    progress: bool = True,
) -> dict[str, Any]:
    out = Path(out_dir)
    made: list[Any] = []

    def shared() -> Any:
        """One backend for the loops and the reduction, made when one of them first needs it."""
        if not made:
            from harness import plugins

            kwargs = dict(loop.backend_args)
            if loop.model is not None:
                kwargs["model"] = loop.model
            made.append(plugins.get("backend", loop.backend)(**kwargs))
        return made[0]

    try:
        loops = run_loops(results_dir, loop, backend=backend or shared, say=say, progress=progress)
        if loop.dry_run:
            return {"loop": asdict(loops)}
        from harness.doctor.leftovers import remove_leftovers
        from harness.engine.lock import Lock

        out.mkdir(parents=True, exist_ok=True)
        with Lock(out / ".sft.lock", what=f"the SFT files in {out}"):
            remove_leftovers(out)
            same = reduce is not None and (reduce.backend, reduce.model, reduce.backend_args) == (
                loop.backend, loop.model, loop.backend_args)
            return _examples_to_sft(results_dir, out, loop, reduce, loops, backend or (shared if same else None), say)
    finally:
        if made:
            import asyncio

            asyncio.run(made[0].aclose())


def _examples_to_sft(results_dir: str | os.PathLike[str], out: Path, loop: LoopConfig, reduce: ReduceConfig | None,
                     loops: Any, backend: Any, say: Callable[[str], None]) -> dict[str, Any]:
    examples = write_examples(results_dir, out, loop)
    say(examples.summary())
    good = out / "good_examples.jsonl"
    collate_input = good
    reduced = None
    if reduce is not None:
        rows = [json.loads(line) for line in good.read_text(encoding="utf-8").splitlines() if line.strip()]
        reduced = reduce_rows(rows, out / "reduced.jsonl", reduce, backend=backend)
        say(reduced.summary())
        collate_input = out / "reduced.jsonl"
    collated = collate_files([collate_input], out / SFT)
    for line in collated.lines():
        say(line)
    manifest = {
        "loop": asdict(loops), "examples": asdict(examples),
        "reduce": reduced.to_dict() if reduced is not None else None, "collate": collated.to_dict(),
        "settings": {"loop": content_settings(loop),
                     "reduce": content_settings(reduce) if reduce is not None else None},
    }
    with atomic_write(out / "manifest.json") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    return manifest
