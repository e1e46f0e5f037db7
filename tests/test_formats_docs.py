"""docs/formats.md says what the code does: every settings table is generated from its config,
and the formatter table names every registered formatter."""

from __future__ import annotations

from pathlib import Path

from harness.formats import FormatConfig, formatter_names
from harness.formats.summaries import DatasetConfig, SummaryConfig
from harness.importers.run import ImportConfig
from harness.labels.prm_mc import McConfig
from harness.options import markdown_table

DOCS = (Path(__file__).parent.parent / "docs" / "formats.md").read_text(encoding="utf-8")


def test_settings_tables_match_the_configs():
    assert markdown_table(FormatConfig, exclude=["formatter"]) in DOCS
    assert markdown_table(ImportConfig, exclude=["importer"]) in DOCS
    for config in (SummaryConfig, DatasetConfig, McConfig):
        assert markdown_table(config) in DOCS, config.__name__


def test_the_formatter_table_names_every_formatter():
    table = DOCS.split("| formatter | reads | writes | default success filter |")[1].split("\n\n")[0]
    assert sorted(line.split("`")[1] for line in table.splitlines() if line.startswith("| `")) == formatter_names()
