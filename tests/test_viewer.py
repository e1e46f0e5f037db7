"""The rollout viewer's page, read back in Python: what it embeds, escapes and refuses, its
sections, the guess history, errors and the CLI. (What a browser shows: test_viewer_browser.py.)"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.episode import EpisodeError, load_episodes, validate_episode
from harness.viewer import CHUNK_SIZE, Plot, Table, Text, write_view
from harness.viewer.guesses import guess_history
from synthetic import write_synthetic_episodes

FIXTURES = Path(__file__).parent / "fixtures" / "episodes"
HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)> naïve — 日本語 \u2028 &amp; <!--"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def page_data(page: str) -> tuple[list[dict], list[dict]]:
    """The page's index and full records, decoded as the page's script decodes them."""
    blocks = dict(re.findall(r'<script type="application/octet-stream" id="([\w-]+)">([^<]*)</script>', page))

    def decode(name: str):
        return json.loads(gzip.decompress(base64.b64decode(blocks[name])))

    index = decode("index")
    records = [r for n in range((len(index) + CHUNK_SIZE - 1) // CHUNK_SIZE) for r in decode(f"chunk-{n}")]
    return index, records


def hostile_episode() -> dict:
    record = fixture("search")
    record["episode_id"] = "ep-hostile"
    record["steps"][0]["action"] = HOSTILE
    record["task"]["id"] = "<b>task</b>"
    return record


def test_page_holds_every_episode_and_loads_nothing(tmp_path: Path) -> None:
    names = ["code", "connections", "connections_doctored", "data_analysis", "search"]
    source = write_jsonl(tmp_path / "episodes.jsonl", [fixture(n) for n in names])
    report = write_view([source], tmp_path / "page.html")
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert report.episodes == 5 and report.files == 1 and report.bytes == len(page.encode())
    index, records = page_data(page)
    assert [e["id"] for e in index] == [fixture(n)["episode_id"] for n in names]
    assert [e["source"] for e in index] == [f"{source}:{i}" for i in range(1, 6)]
    doctored = index[2]
    assert doctored["parent"] == {"id": "ep-9e2b44c0f1d35a7b1e88", "steps_kept": 1, "reason": "invalid guess"}
    assert index[3]["verdicts"] == {"ground_truth": ["pass", 1.0], "triangulation": ["pass", 0.8]}
    assert records[1]["prompt"] == fixture("connections")["prompt"]
    assert records[4]["steps"][0]["action"] == fixture("search")["steps"][0]["action"]
    # self-contained: no external script, style, font, image or frame; a policy forbids loading any
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page


def test_model_text_never_becomes_markup(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "e.jsonl", [hostile_episode()])
    write_view(source, tmp_path / "page.html", title="<i>Loop 1</i> & co")
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert "alert(" not in page and "<b>task</b>" not in page and "日本語" not in page  # only encoded
    assert page.count("<script") == page.count("</script>") == 3  # index, one chunk, the script
    assert "<title>&lt;i&gt;Loop 1&lt;/i&gt; &amp; co</title>" in page
    _, records = page_data(page)
    assert records[0]["steps"][0]["action"] == HOSTILE and records[0]["task"]["id"] == "<b>task</b>"


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "e.jsonl", [fixture("connections"), fixture("search")])
    write_view(source, tmp_path / "a.html")
    write_view(source, tmp_path / "b.html")
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()


def test_directories_episodes_and_dicts(tmp_path: Path) -> None:
    shards = tmp_path / "run"
    shards.mkdir()
    write_jsonl(shards / "shard-00000-of-00002.jsonl", [fixture("code")])
    write_jsonl(shards / "shard-00001-of-00002.jsonl", [fixture("search")])
    (shards / "manifest.json").write_text("{}")
    episode = validate_episode(fixture("connections"))
    report = write_view([shards, episode, fixture("data_analysis")], tmp_path / "page.html")
    index, _ = page_data((tmp_path / "page.html").read_text())
    assert report.files == 2
    assert [e["env"] for e in index] == ["code", "search", "connections", "data-analysis"]
    assert [e["source"] for e in index][2:] == ["<episode 2>", "<episode 3>"]


def test_token_ids_are_counted_not_embedded(tmp_path: Path) -> None:
    record = fixture("data_analysis")
    with_tokens = [s for s in record["steps"] if "tokens" in s]
    assert with_tokens, "the fixture has token ids"
    write_view(write_jsonl(tmp_path / "e.jsonl", [record]), tmp_path / "page.html")
    _, records = page_data((tmp_path / "page.html").read_text())
    step = next(s for s in records[0]["steps"] if "token_counts" in s)
    assert "tokens" not in step
    assert step["token_counts"]["completion_ids"] == len(with_tokens[0]["tokens"]["completion_ids"])
    assert "tokens" in record["steps"][record["steps"].index(with_tokens[0])]  # the input is left as it was


def test_guess_history_of_a_doctored_game() -> None:
    episode = validate_episode(fixture("connections_doctored"))
    rows = guess_history(episode)
    assert [(r["origin"], r["turn"], r["status"]) for r in rows] == [
        ("kept", None, "correct"), ("step", 1, "correct"), ("step", 2, "correct"), ("auto", 2, "auto"),
    ]
    assert rows[0]["items"] == ["NAVY", "TEAL", "COBALT", "AZURE"] and rows[0]["group"] == "Shades of blue"
    assert rows[1]["items"] == ["FLOP", "RIVER", "BLIND", "CALL"] and rows[1]["group"] == "Poker terms"
    assert guess_history(validate_episode(fixture("search"))) is None


def test_invalid_lines_are_named_unless_skipped(tmp_path: Path) -> None:
    broken = fixture("search")
    del broken["outcome"]
    source = tmp_path / "e.jsonl"
    source.write_text(json.dumps(fixture("code")) + "\n" + json.dumps(broken) + "\n{not json\n")
    with pytest.raises(EpisodeError) as info:
        write_view(source, tmp_path / "page.html")
    assert str(info.value).startswith(f"{source}:2: /outcome: required field is missing")
    assert not (tmp_path / "page.html").exists()

    report = write_view(source, tmp_path / "page.html", errors="skip")
    page = (tmp_path / "page.html").read_text()
    assert report.episodes == 1 and report.skipped == 2
    assert '<summary id="skipped-count">2 invalid line(s) skipped (--errors skip)</summary>' in page
    assert f"{source}:2: /outcome: required field is missing" in page and f"{source}:3:" in page
    assert "2 invalid line(s) skipped" in report.summary()


def test_nothing_to_show_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"no episodes to show \(0 record\(s\) read from 1 file\(s\)\)"):
        write_view(empty, tmp_path / "page.html")
    assert not (tmp_path / "page.html").exists()
    assert write_view(empty, tmp_path / "page.html", allow_empty=True).episodes == 0
    assert page_data((tmp_path / "page.html").read_text())[0] == []


def test_sections_plots_tables_and_notes(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(4, 3))
    axes.hist([0.0, 0.25, 1.0, 1.0], bins=4)
    png = io.BytesIO()
    figure.savefig(png, format="png")
    sections = [
        Plot("Reward distribution", figure, caption="all loops"),
        Plot("From bytes", png.getvalue()),
        Table("Good and bad per loop", ["loop", "good", "bad", "rate"], [[1, 3, 5, 0.375], [2, "<b>7</b>", 1, None]]),
        Text("Before and after", "valid turns: 0 → 12\nwins: 0 → 2"),
    ]
    source = write_jsonl(tmp_path / "e.jsonl", [fixture("connections")])
    report = write_view(source, tmp_path / "page.html", sections=sections)
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert report.sections == 4
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">', page)
    assert [alt for _, alt in images] == ["Reward distribution", "From bytes"]
    assert all(base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n") for data, _ in images)
    assert base64.b64decode(images[1][0]) == png.getvalue()
    assert "<td>&lt;b&gt;7&lt;/b&gt;</td>" in page and '<td class="num">0.375</td>' in page
    assert "valid turns: 0 → 12\nwins: 0 → 2" in page
    assert page.index('id="section-1"') < page.index('id="section-4"') < page.index('id="viewer"')


def test_bad_sections_are_refused_before_reading(tmp_path: Path) -> None:
    missing = tmp_path / "not-there.jsonl"
    with pytest.raises(ValueError, match="plot 'x': the image is not a PNG"):
        write_view(missing, tmp_path / "page.html", sections=[Plot("x", b"GIF89a...")])
    with pytest.raises(ValueError, match="table 't': row 0 has 1 values for 2 columns"):
        write_view(missing, tmp_path / "page.html", sections=[Table("t", ["a", "b"], [[1]])])
    with pytest.raises(TypeError, match="section 1: expected a Plot, Table or Text"):
        write_view(missing, tmp_path / "page.html", sections=["<h1>raw html</h1>"])


def test_page_is_a_fraction_of_the_jsonl(tmp_path: Path) -> None:
    """Compression keeps large runs usable: the page is far smaller than the records it shows."""
    source = tmp_path / "synthetic.jsonl"
    write_synthetic_episodes(source, target_bytes=4_000_000, unique_tasks=200)
    count = sum(1 for _ in load_episodes(source))
    report = write_view(source, tmp_path / "page.html")
    assert report.episodes == count > CHUNK_SIZE * 3
    assert report.bytes < 0.25 * source.stat().st_size


def run_view(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", "view", *args], cwd=cwd, capture_output=True, text=True)


def test_cli(tmp_path: Path) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    write_jsonl(work / "a.jsonl", [fixture("connections"), fixture("search")])
    result = run_view("a.jsonl", "-o", "out/page.html", "--title", "Loop 2", cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith("view: 2 episode(s) from 1 file(s), "
                                          f"{(work / 'out/page.html').stat().st_size / 1e6:.2f} MB -> out/page.html")
    assert "<title>Loop 2</title>" in (work / "out/page.html").read_text()

    (work / "bad.jsonl").write_text(json.dumps(fixture("code")) + "\n{\"schema_version\": \"1\"}\n")
    result = run_view("bad.jsonl", "-o", "bad.html", cwd=work)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Error: bad.jsonl:2: /episode_id: required field is missing" in result.stderr
    result = run_view("bad.jsonl", "-o", "bad.html", "--errors", "skip", cwd=work)
    assert result.returncode == 0 and "1 invalid line(s) skipped" in result.stderr

    (work / "empty.jsonl").write_text("")
    result = run_view("empty.jsonl", "-o", "empty.html", cwd=work)
    assert result.returncode == 1 and "no episodes to show" in result.stderr
    assert not (work / "empty.html").exists()
    assert run_view("empty.jsonl", "-o", "empty.html", "--allow-empty", cwd=work).returncode == 0

    help_text = run_view("--help", cwd=work).stdout
    assert "--errors [raise|skip]" in help_text and "self-contained HTML page" in help_text


def test_docs_list_every_option() -> None:
    from harness.cli.view import view

    doc = (Path(__file__).parent.parent / "docs" / "viewer.md").read_text()
    table = doc[doc.index("| option | what |"):].split("\n\n")[0]
    documented = set(re.findall(r"^\| `[^`]*?(--[a-z-]+)", table, flags=re.M))
    options = {name for p in view.params for name in p.opts if name.startswith("--")} - {"--help"}
    assert documented == options
