"""`harness jsonl …`: the fastjsonl operations from the shell (see docs/jsonl.md)."""

from __future__ import annotations

import json
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import click

from harness import jsonl as fj
from harness.jsonl import Errors

F = TypeVar("F", bound=Callable[..., Any])

_ERRORS = click.Choice(["raise", "skip", "collect"])


def _common(func: F) -> F:
    """Options every operation takes."""
    func = click.option(
        "--errors",
        type=_ERRORS,
        default="raise",
        show_default=True,
        help="Malformed lines: stop at the first, leave them out, or leave them out and list them.",
    )(func)
    func = click.option("--threads", type=click.IntRange(min=1), help="Parsing threads [default: one per core].")(func)
    return func


def _inputs(func: F) -> F:
    path = click.Path(dir_okay=False, allow_dash=True, path_type=Path)
    return click.argument("files", nargs=-1, required=True, type=path)(func)


def _allow_empty(what: str) -> Callable[[F], F]:
    return click.option("--allow-empty", is_flag=True, help=f"Exit 0 even when {what}.")


def _output(func: F) -> F:
    return click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="File to write (atomically).",
    )(func)


def _run(what: str, files: tuple[Path, ...], action: Callable[[], Any]) -> Any:
    """Runs an operation, reporting malformed lines and speed on stderr; exits 1 on a JsonlError
    or on an output it refused to write empty."""
    start = time.perf_counter()
    try:
        result = action()
    except fj.JsonlError as e:
        click.echo(f"{e}\n    {e.snippet}", err=True)
        sys.exit(1)
    except fj.EmptyOutputError as e:
        _speed(what, e.report, files, time.perf_counter() - start)
        click.echo(
            f"{what}: no record to write ({e.found}); {e.output} was not written "
            "(--allow-empty writes an empty file)",
            err=True,
        )
        sys.exit(1)
    except OSError as e:
        raise click.ClickException(str(e)) from e
    except ValueError as e:
        raise click.UsageError(str(e)) from e
    _speed(what, result, files, time.perf_counter() - start)
    return result


def _speed(what: str, result: Any, files: tuple[Path, ...], seconds: float) -> None:
    """What was read, how fast, and the malformed lines left out, on stderr."""
    size = getattr(result, "bytes", None)
    if size is None:
        size = _regular_size(files)
    if size is None:
        click.echo(f"{what}: {seconds:.2f} s", err=True)
    else:
        click.echo(
            f"{what}: {size / 1e6:,.1f} MB in {seconds:.2f} s ({size / 1e9 / max(seconds, 1e-9):.2f} GB/s)", err=True
        )
    for err in getattr(result, "errors", [])[:20]:
        click.echo(f"  {err}", err=True)
    if getattr(result, "malformed", 0):
        click.echo(f"  {result.malformed} malformed line(s) left out", err=True)


def _regular_size(files: tuple[Path, ...]) -> int | None:
    """The inputs' total size, or None when one is a stream (its size is known once read)."""
    total = 0
    for f in files:
        if str(f) == "-":
            return None
        try:
            st = f.stat()
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        total += st.st_size
    return total


def _no_records(what: str, files: tuple[Path, ...], allow_empty: bool) -> None:
    """Says that the inputs held no record; exits 1 unless that was allowed."""
    names = ", ".join("<stdin>" if str(f) == "-" else str(f) for f in files)
    if allow_empty:
        click.echo(f"{what}: warning: no records in {names}", err=True)
        return
    click.echo(f"{what}: no records in {names} (--allow-empty accepts empty input)", err=True)
    sys.exit(1)


def _empty_output(what: str, result: Any, output: Path) -> None:
    """Says that an output allowed to be empty is (its writing was refused otherwise)."""
    if result.written == 0:
        click.echo(f"{what}: warning: wrote no record to {output} ({result.records:,} record(s) read)", err=True)


def _report(result: Any, fields: list[str]) -> None:
    click.echo("  ".join(f"{name}={getattr(result, name):,}" for name in fields), err=True)


@click.group()
def jsonl() -> None:
    """Scan, read, deduplicate, split, filter and count JSONL files, fast.

    FILES are regular files or streams: '-' (standard input), a FIFO, <(command), a /proc
    file. Fields are named by JSON pointers (/info/puzzle_id). Outputs are written to a
    temporary file and renamed into place. Input holding no record, or an output that would
    hold none, exits 1 unless --allow-empty. Details: docs/jsonl.md.
    """


@jsonl.command()
@_inputs
@click.option("--threads", type=click.IntRange(min=1), help="Parsing threads [default: one per core].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@_allow_empty("no file holds a record")
def scan(files: tuple[Path, ...], threads: int | None, as_json: bool, allow_empty: bool) -> None:
    """Count records and find every malformed line (exit 1 if any, or if there is no record).

    FILES may be '-' (standard input), FIFOs or <(command)."""
    report = _run("scan", files, lambda: fj.scan(list(files), threads=threads))
    if as_json:
        out = {k: v for k, v in vars(report).items() if k not in ("errors", "files")}
        out["files"] = [vars(f) for f in report.files]
        out["errors"] = [
            {"path": e.path, "line": e.line, "column": e.column, "byte_offset": e.byte_offset, "reason": e.reason}
            for e in report.errors
        ]
        click.echo(json.dumps(out, indent=2))
    else:
        for f in report.files:
            extras = (" BOM" if f.bom else "") + (f" {f.crlf_lines} CRLF lines" if f.crlf_lines else "")
            click.echo(
                f"{f.path}: {f.records:,} records, {f.blank_lines:,} blank, {f.malformed:,} malformed, "
                f"{f.bytes:,} bytes{extras}"
            )
    if report.records == 0:
        _no_records("scan", files, allow_empty or report.malformed > 0)
    elif len(report.files) > 1:
        for f in report.files:
            if f.records == 0:
                click.echo(f"scan: warning: {f.path} holds no records", err=True)
    sys.exit(1 if report.malformed else 0)


@jsonl.command()
@_inputs
@click.option("--field", "fields", multiple=True, help="Keep only this field (a name or a JSON pointer); repeatable.")
@click.option("--errors", type=_ERRORS, default="raise", show_default=True, help="Malformed lines: stop, skip or list.")
@_allow_empty("there is no record")
def read(files: tuple[Path, ...], fields: tuple[str, ...], errors: Errors, allow_empty: bool) -> None:
    """Print the records as JSON lines (only some fields with --field).

    FILES may be '-' (standard input), FIFOs or <(command)."""
    printed = 0

    def print_all() -> fj.Reader:
        nonlocal printed
        reader = fj.read(list(files), fields=list(fields) or None, errors=errors)
        for record in reader:
            click.echo(json.dumps(record, ensure_ascii=False))
            printed += 1
        return reader

    _run("read", files, print_all)
    if printed == 0:
        _no_records("read", files, allow_empty)


@jsonl.command()
@_inputs
@_output
@click.option("--key", required=True, help="JSON pointer of the key (7 and \"7\" are the same key).")
@click.option(
    "--score",
    "scores",
    multiple=True,
    help="Pointer of a number to rank by, higher wins; prefix '-' for lower wins. Repeat to break ties.",
)
@click.option(
    "--keep",
    type=click.Choice(["best", "first", "last"]),
    help="Which record wins [default: best with --score, else first].",
)
@click.option(
    "--missing",
    type=click.Choice(["error", "skip", "keep"]),
    default="error",
    show_default=True,
    help="Records without a key or score.",
)
@_allow_empty("no record is written (the empty output is then written too)")
@_common
def dedup(
    files: tuple[Path, ...],
    output: Path,
    key: str,
    scores: tuple[str, ...],
    keep: Literal["best", "first", "last"] | None,
    missing: Literal["error", "skip", "keep"],
    allow_empty: bool,
    errors: Errors,
    threads: int | None,
) -> None:
    """Keep one record per key across FILES, written byte for byte.

    FILES may be '-' (standard input), FIFOs or <(command): a stream is first copied to a
    scratch file beside the output (as large as the stream, removed at the end)."""
    keep = keep or ("best" if scores else "first")
    report = _run(
        "dedup",
        files,
        lambda: fj.dedup(
            list(files),
            output,
            key,
            score=list(scores) or None,
            keep=keep,
            missing=missing,
            errors=errors,
            threads=threads,
            allow_empty=allow_empty,
        ),
    )
    _report(report, ["records", "written", "unique_keys", "missing"])
    _empty_output("dedup", report, output)


def _split_on(value: str) -> tuple[str, Any]:
    pointer, sep, raw = value.partition("=")
    if not sep:
        raise click.BadParameter("expected POINTER=VALUE, e.g. /type=search_result")
    return pointer, _literal(raw)


def _literal(raw: str) -> Any:
    """A JSON value when `raw` parses as one, else the plain string."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


@jsonl.command()
@_inputs
@_output
@click.option("--steps", required=True, help="Pointer of the array of steps, e.g. /trace.")
@click.option(
    "--on", "on", required=True, help="POINTER=VALUE inside a step marking a split point, e.g. /type=search_result."
)
@click.option("--carry", multiple=True, help="Parent field to copy into each split (pointer); repeatable.")
@click.option("--keep-empty", is_flag=True, help="Also write split points followed by no step.")
@click.option(
    "--missing",
    type=click.Choice(["error", "skip"]),
    default="error",
    show_default=True,
    help="Records without the steps array.",
)
@_allow_empty("no split record is written (the empty output is then written too)")
@_common
def split(
    files: tuple[Path, ...],
    output: Path,
    steps: str,
    on: str,
    carry: tuple[str, ...],
    keep_empty: bool,
    missing: Literal["error", "skip"],
    allow_empty: bool,
    errors: Errors,
    threads: int | None,
) -> None:
    """One record per split point of each trace: context up to it, response up to the next.

    FILES may be '-' (standard input), FIFOs or <(command)."""
    try:
        on_pair = _split_on(on)
    except click.BadParameter as e:
        raise click.UsageError(f"--on: {e.message}") from e
    report = _run(
        "split",
        files,
        lambda: fj.split(
            list(files),
            output,
            steps,
            on=on_pair,
            carry=list(carry),
            keep_empty=keep_empty,
            missing=missing,
            errors=errors,
            threads=threads,
            allow_empty=allow_empty,
        ),
    )
    _report(report, ["records", "written", "missing"])
    _empty_output("split", report, output)


_OPS = ["not in", "exists", "missing", "==", "!=", "<=", ">=", "<", ">", "in"]


def parse_where(text: str) -> tuple[str, str, Any]:
    """'/reward >= 0.5' → ('/reward', '>=', 0.5); '/error exists' → ('/error', 'exists', None)."""
    pointer, _, rest = text.strip().partition(" ")
    rest = rest.strip()
    for op in _OPS:
        if rest == op or rest.startswith(op + " "):
            raw = rest[len(op) :].strip()
            if op in ("exists", "missing"):
                if raw:
                    raise click.UsageError(f"--where {text!r}: '{op}' takes no value")
                return pointer, op, None
            if not raw:
                raise click.UsageError(f"--where {text!r}: '{op}' needs a value")
            return pointer, op, _literal(raw)
    raise click.UsageError(f"--where {text!r}: expected 'POINTER OP VALUE' with OP one of {', '.join(_OPS)}")


@jsonl.command(name="filter")
@_inputs
@_output
@click.option(
    "--where",
    "conditions",
    multiple=True,
    required=True,
    help="'POINTER OP VALUE', e.g. '/reward >= 0.5', '/env/name == connections', '/error missing'. All must hold.",
)
@_allow_empty("no record meets the conditions (the empty output is then written too)")
@_common
def filter_(
    files: tuple[Path, ...],
    output: Path,
    conditions: tuple[str, ...],
    allow_empty: bool,
    errors: Errors,
    threads: int | None,
) -> None:
    """Copy the records meeting every --where condition, byte for byte.

    FILES may be '-' (standard input), FIFOs or <(command)."""
    where = [parse_where(c) for c in conditions]
    report = _run(
        "filter",
        files,
        lambda: fj.filter(list(files), output, where, errors=errors, threads=threads, allow_empty=allow_empty),
    )
    _report(report, ["records", "written"])
    _empty_output("filter", report, output)


@jsonl.command(name="count-by")
@_inputs
@click.option("--key", required=True, help="JSON pointer of the key.")
@click.option(
    "--json", "as_json", is_flag=True, help='Print [{"key": …, "count": …}, …] on stdout (missing keys as null).'
)
@_allow_empty("there is no record")
@_common
def count_by(
    files: tuple[Path, ...], key: str, as_json: bool, allow_empty: bool, errors: Errors, threads: int | None
) -> None:
    """Count records per key, largest first (missing keys as null).

    FILES may be '-' (standard input), FIFOs or <(command)."""
    report = _run("count-by", files, lambda: fj.count_by(list(files), key, errors=errors, threads=threads))
    if as_json:
        rows = [{"key": k, "count": n} for k, n in report.counts.items()]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for k, n in report.counts.items():
            click.echo(f"{n:>10,}  {'(missing)' if k is None else k}")
    if report.records == 0:
        _no_records("count-by", files, allow_empty)
