"""The format stage's guarantees beyond the rows: one writer per output, nothing left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.engine.lock import Lock, LockHeld
from harness.formats import FormatConfig, NothingFormatted, format_files
from harness.importers.run import ImportConfig, import_files

FIXTURES = Path(__file__).parent / "fixtures" / "formats"


def test_a_second_writer_of_one_output_stops_naming_the_first(tmp_path):
    import_files([FIXTURES / "episodes_seed000.jsonl"], tmp_path / "episodes", ImportConfig(importer="seed000"))
    out = tmp_path / "sft.jsonl"
    with Lock(f"{out}.lock", what=str(out)), pytest.raises(LockHeld, match="another process is writing"):
        format_files([tmp_path / "episodes"], out, FormatConfig(formatter="sft-standard"))  # another process holds it
    assert not out.exists()
    report = format_files([tmp_path / "episodes"], out, FormatConfig(formatter="sft-standard"))
    assert report.rows == 3 and not Path(f"{out}.lock").exists()


def test_a_run_without_rows_leaves_an_earlier_file_as_it_was(tmp_path):
    import_files([FIXTURES / "episodes_seed000.jsonl"], tmp_path / "episodes", ImportConfig(importer="seed000"))
    out = tmp_path / "rows.jsonl"
    out.write_text("earlier\n")
    with pytest.raises(NothingFormatted) as err:
        format_files([tmp_path / "episodes"], out, FormatConfig(formatter="search-multiturn"))
    assert err.value.report.other_envs == {"data-analysis": 5}
    assert out.read_text() == "earlier\n"
