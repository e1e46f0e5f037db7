"""`harness jsonl` and `harness.jsonl` on streams: a real FIFO fed by a writer process, the
shell's `<(…)`, piped standard input (`-`) and `/proc` files give what the same bytes give in a
regular file; and no operation reports a silent zero (docs/jsonl.md, "Inputs" and "Empty
results")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness import jsonl

HARNESS = os.path.join(os.path.dirname(sys.executable), "harness")


def records(n: int) -> bytes:
    """n episodes-like records, 97 distinct keys, some split points, some filtered out."""
    lines = []
    for i in range(n):
        trace = [{"type": "search_result" if s % 2 else "think", "n": s} for s in range(i % 4)]
        lines.append(json.dumps({"task": {"id": i % 97}, "reward": (i * 31) % 101, "ok": i % 3 == 0,
                                 "trace": trace}, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode()


DATA = records(30_000)  # about 2 MB: several chunks of a stream


def harness(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([HARNESS, "jsonl", *args], capture_output=True, timeout=300, **kwargs)


def text(r: subprocess.CompletedProcess) -> str:
    return r.stderr.decode() if isinstance(r.stderr, bytes) else r.stderr


@pytest.fixture
def regular(tmp_path: Path) -> Path:
    path = tmp_path / "regular.jsonl"
    path.write_bytes(DATA)
    return path


def through_fifo(tmp_path: Path, source: Path, *args: str) -> subprocess.CompletedProcess:
    """Runs `harness jsonl ARGS` where `{fifo}` is a FIFO a `cat` process fills from `source`."""
    fifo = tmp_path / "input.fifo"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", 'exec cat "$0" > "$1"', str(source), str(fifo)])
    try:
        return harness(*[a.format(fifo=fifo) for a in args])
    finally:
        if writer.poll() is None:  # the reader never opened the FIFO: the writer would wait forever
            writer.kill()
        writer.wait(timeout=60)


def test_scan_of_a_fifo_counts_every_record(tmp_path, regular):
    r = through_fifo(tmp_path, regular, "scan", "{fifo}", "--json")
    assert r.returncode == 0, text(r)
    report = json.loads(r.stdout)
    assert (report["records"], report["bytes"], report["malformed"]) == (30_000, len(DATA), 0)
    assert report["files"][0]["path"] == str(tmp_path / "input.fifo")


def test_dedup_of_a_fifo_equals_dedup_of_the_file(tmp_path, regular):
    args = ["--key", "/task/id", "--score", "/reward", "--threads", "2"]
    r = through_fifo(tmp_path, regular, "dedup", "{fifo}", "-o", str(tmp_path / "streamed.jsonl"), *args)
    assert r.returncode == 0, text(r)
    assert "records=30,000  written=97" in text(r)
    ok = harness("dedup", str(regular), "-o", str(tmp_path / "direct.jsonl"), *args)
    assert ok.returncode == 0, text(ok)
    assert (tmp_path / "streamed.jsonl").read_bytes() == (tmp_path / "direct.jsonl").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "direct.jsonl", "input.fifo", "regular.jsonl", "streamed.jsonl"], "no scratch file is left"


def test_process_substitution_in_bash(tmp_path, regular):
    """The shell's `<(…)`, the way users write it: every operation, against the regular file."""
    out = tmp_path / "out"
    out.mkdir()
    commands = {
        "filter": "filter {src} -o {out}/filter{n}.jsonl --where '/ok == true'",
        "split": "split {src} -o {out}/split{n}.jsonl --steps /trace --on /type=search_result --carry /task/id",
        "dedup": "dedup {src} {src} -o {out}/dedup{n}.jsonl --key /task/id --keep last",
        "count-by": "count-by {src} --key /task/id --json > {out}/count{n}.json",
    }
    for name, command in commands.items():
        for n, src in ((1, f"<(cat {regular})"), (2, str(regular))):
            line = f"{HARNESS} jsonl " + command.format(src=src, out=out, n=n)
            r = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, (name, r.stderr)
        first, second = sorted(out.glob(f"{name.split('-')[0]}[12].*"))
        assert first.read_bytes() == second.read_bytes(), name
        assert first.stat().st_size > 1000, name
    r = subprocess.run(["bash", "-c", f"{HARNESS} jsonl scan <(cat {regular}) <(printf '{{}}\\n')"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "30,000 records" in r.stdout and "1 records" in r.stdout


def test_piped_stdin_as_dash(regular):
    r = harness("count-by", "-", "--key", "/task/id", "--json", input=DATA)
    assert r.returncode == 0, text(r)
    counts = {row["key"]: row["count"] for row in json.loads(r.stdout)}
    assert sum(counts.values()) == 30_000 and len(counts) == 97
    r = harness("read", "-", "--field", "/task/id", input=b'{"task":{"id":7}}\n{"task":{"id":8}}\n')
    assert r.returncode == 0, text(r)
    assert [json.loads(x) for x in r.stdout.splitlines()] == [{"/task/id": 7}, {"/task/id": 8}]
    with open(regular, "rb") as stdin:  # stdin redirected from a file
        r = harness("scan", "-", "--json", stdin=stdin)
    assert r.returncode == 0 and json.loads(r.stdout)["records"] == 30_000, text(r)


def test_malformed_line_on_stdin_is_named_with_line_and_column(tmp_path):
    data = records(20_000) + b'{"task":{"id":1},"reward":,}\n' + records(5)
    r = harness("filter", "-", "-o", str(tmp_path / "o.jsonl"), "--where", "/ok == true", input=data)
    assert r.returncode == 1
    assert "<stdin>:20001:27: " in text(r), text(r)
    assert not (tmp_path / "o.jsonl").exists()


def test_stdin_given_twice_is_a_usage_error(tmp_path):
    r = harness("scan", "-", "-", input=b"{}\n")
    assert r.returncode == 2 and "only once" in text(r), text(r)


def test_proc_files_are_read():
    """/proc files report a size of 0: they used to read as empty."""
    mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
    r = subprocess.run([HARNESS, "jsonl", "scan", "/proc/self/mountinfo", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, "every line is text, not JSON: malformed"
    report = json.loads(r.stdout)
    assert report["malformed"] == len(mountinfo) > 0
    assert report["errors"][0]["path"] == "/proc/self/mountinfo" and report["errors"][0]["line"] == 1
    # /proc/self/fd/0 of the harness process is the pipe its standard input comes through.
    r = harness("count-by", "/proc/self/fd/0", "--key", "/ok", "--json", input=DATA)
    assert r.returncode == 0, text(r)
    assert {row["key"]: row["count"] for row in json.loads(r.stdout)} == {"False": 20_000, "True": 10_000}


def test_python_api_reads_a_fifo(tmp_path):
    fifo = tmp_path / "api.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as f:
            f.write(DATA)

    writer = threading.Thread(target=feed, daemon=True)  # daemon: never blocks the test run
    writer.start()
    report = jsonl.scan(fifo, threads=2)
    writer.join(timeout=60)
    assert (report.records, report.bytes) == (30_000, len(DATA))

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    ids = [r["/task/id"] for r in jsonl.read(fifo, fields=["/task/id"])]
    writer.join(timeout=60)
    assert ids == [i % 97 for i in range(30_000)]


# No silent zero ------------------------------------------------------------------------------


def test_empty_input_is_an_error_unless_allowed(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    for command in (["scan"], ["count-by", "--key", "/k"], ["read"]):
        r = harness(command[0], str(empty), *command[1:])
        assert r.returncode == 1 and f"no records in {empty}" in text(r), (command, text(r))
        r = harness(command[0], str(empty), *command[1:], "--allow-empty")
        assert r.returncode == 0 and "warning: no records" in text(r), (command, text(r))
    r = subprocess.run(["bash", "-c", f"{HARNESS} jsonl scan <(true)"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 1 and "no records in /dev/fd/" in r.stderr, r.stderr


def test_a_file_without_records_among_others_is_named(tmp_path, regular):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\n\n")
    r = harness("scan", str(regular), str(empty))
    assert r.returncode == 0, text(r)
    assert f"scan: warning: {empty} holds no records" in text(r)


@pytest.mark.parametrize("command", [
    ["filter", "--where", "/reward > 1000"],
    ["dedup", "--key", "/task/id", "--missing", "skip", "--keep", "first"],
    ["split", "--steps", "/trace", "--on", "/type=no_such_step"],
])
def test_an_output_without_records_is_not_written_unless_allowed(tmp_path, regular, command):
    source = regular
    if command[0] == "dedup":  # every record lacks the key
        source = tmp_path / "keyless.jsonl"
        source.write_bytes(b'{"x":1}\n{"x":2}\n')
    target = tmp_path / "out.jsonl"
    target.write_bytes(b'{"old":true}\n')
    r = harness(command[0], str(source), "-o", str(target), *command[1:])
    assert r.returncode == 1, text(r)
    assert "no record to write" in text(r) and f"{target} was not written" in text(r)
    assert target.read_bytes() == b'{"old":true}\n', "the old output stays as it was"
    r = harness(command[0], str(source), "-o", str(target), *command[1:], "--allow-empty")
    assert r.returncode == 0, text(r)
    assert "warning: wrote no record" in text(r)
    assert target.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [], "no temp file left"


def test_python_api_refuses_an_empty_output_when_asked(tmp_path, regular):
    target = tmp_path / "kept.jsonl"
    with pytest.raises(jsonl.EmptyOutputError, match="30,000 record") as caught:
        jsonl.filter(regular, target, [("/reward", ">", 1000)], allow_empty=False)
    assert caught.value.report.records == 30_000 and caught.value.report.written == 0
    assert not target.exists()
    report = jsonl.filter(regular, target, [("/reward", ">", 1000)])
    assert report.written == 0 and target.read_bytes() == b""
