"""Formatters: episodes → the files trainers read. See docs/formats.md.

    from harness.formats import FormatConfig, format_files
    format_files(["data/rollouts/da"], "train.parquet", FormatConfig(formatter="sft-standard"))

    from harness.formats import get_formatter, format_file
    format_file(get_formatter("prm", label_mode="first-error"), "episodes.jsonl", "prm.jsonl")

Every formatter reads episode records (`harness.episode.Episode`); the seeds' own shapes are
imported into episodes first (`harness.importers`, `harness import`). The one exception is seed
004's student-code rows, read as rows (harness.formats.student_code says why). Every formatter
is registered through the plugin registry (`harness.plugins.get("formatter", name)`), so
plugins add their own beside these and `harness format`, the Luigi tasks and the Python API
find them by name.
"""

from __future__ import annotations

from typing import Any

from harness.formats.base import FormatError, Formatter, RecordError
from harness.formats.run import (
    FormatConfig,
    FormatReport,
    NothingFormatted,
    format_file,
    format_files,
    format_located,
    format_records,
)

__all__ = [
    "FormatConfig",
    "FormatError",
    "FormatReport",
    "Formatter",
    "NothingFormatted",
    "RecordError",
    "format_file",
    "format_files",
    "format_located",
    "format_records",
    "formatter_names",
    "get_formatter",
]


def get_formatter(name: str, **options: Any) -> Formatter:
    """The registered formatter `name`, built with `options`."""
    from harness.plugins import registry

    return registry().get("formatter", name)(**options)


def formatter_names() -> list[str]:
    from harness.plugins import registry

    return registry().names("formatter")
