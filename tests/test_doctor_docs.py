"""The doctoring docs say what the code does: the settings tables, the protocol section, the
README's link."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.doctor.loop import LoopConfig
from harness.doctor.reduce import ReduceConfig
from harness.doctor.stage import DoctorConfig
from harness.options import markdown_table

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("config", [DoctorConfig, LoopConfig, ReduceConfig])
def test_the_settings_tables_match_the_code(config):
    assert markdown_table(config) in (DOCS / "doctoring.md").read_text()


def test_the_protocol_is_documented_where_plugin_authors_look():
    plugins = (DOCS / "plugins.md").read_text()
    section = plugins[plugins.index("\n## Doctoring\n"):]
    for name in ("def salvage(self, episode: Episode) -> int | None", "def salvage_quality", "env.resume(episode)",
                 "default_salvage", "UNSALVAGEABLE"):
        assert name in section
    assert "[doctoring.md](docs/doctoring.md)" in (DOCS.parent / "README.md").read_text()
