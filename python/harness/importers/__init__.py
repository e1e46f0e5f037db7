"""Import adapters: the seeds' own input shapes → episode records (see docs/formats.md).

    harness import seed000 episodes.jsonl -o data/imported/seed000
    harness import seed002 traces.jsonl -o data/imported/seed002
    harness import seed001 results_*.jsonl -o data/imported/seed001

One module per seed (`seed000`, `seed001`, `seed002`), each with `records(path)` (the episodes
of one file, with the file's line numbers) and the shared stage function `import_files`
(`harness.importers.run`). An imported episode loses nothing a formatter needs: what the episode
record has no place for stays in `info.seed000` / `info.seed001` / `info.seed002` (episode level)
or in each step's `info`, as the seed wrote it (absent stays absent, null stays null, ids keep
their type; non-finite numbers are kept as `harness.importers.values` describes).
"""

from __future__ import annotations

__all__ = ["IMPORTERS"]

IMPORTERS = ("seed000", "seed001", "seed002")
"""The seed shapes `harness import` reads; `harness.importers.<name>` is each one's module."""
