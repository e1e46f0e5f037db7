"""Formatters: episode records, seed 000 episodes, seed 002 traces and seed 004 rows → the files
trainers read. See docs/formats.md.

    from harness.formats import get_formatter, format_file
    format_file(get_formatter("sft-standard"), "episodes.jsonl", "train.parquet")

Every formatter is registered through the plugin registry (`harness.plugins.get("formatter",
name)`), so plugins add their own beside these and `harness format`, the Luigi tasks and the
Python API find them by name.
"""

from __future__ import annotations

from typing import Any

from harness.formats.base import FormatError, Formatter, RecordError
from harness.formats.run import FormatReport, format_file, format_records

__all__ = ["Formatter", "FormatError", "RecordError", "FormatReport", "format_file",
           "format_records", "get_formatter", "formatter_names"]


def get_formatter(name: str, **options: Any) -> Formatter:
    """The registered formatter `name`, built with `options`."""
    from harness.plugins import registry

    return registry().get("formatter", name)(**options)


def formatter_names() -> list[str]:
    from harness.plugins import registry

    return registry().names("formatter")
