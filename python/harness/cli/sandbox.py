"""`harness sandbox`: what isolation this machine allows, and running a file inside it."""

from __future__ import annotations

import json
import sys

import click


@click.group()
def sandbox() -> None:
    """The sandbox that runs untrusted code (verifiers, code environments)."""


@sandbox.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--minimum", default=None,
              help="Level to require (default: HARNESS_SANDBOX_MINIMUM, else namespaces).")
def check(as_json: bool, minimum: str | None) -> None:
    """Detect what the machine allows and print the isolation level that is active.

    Exit status 1 when the best level is below the configured minimum: the sandbox would
    refuse to run untrusted code here.
    """
    from harness.sandbox.levels import IsolationLevel, configured_minimum, default_level, detect

    caps = detect()
    floor = IsolationLevel.parse(minimum) if minimum else configured_minimum()
    active = default_level(caps.best, floor)
    report = {**caps.to_dict(), "active": active.label, "minimum": floor.label,
              "ok": active >= floor}
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(f"isolation level: {active.label} (best available: {caps.best.label}, "
                   f"minimum: {floor.label})")
        click.echo(f"  root (per-sample uid): {'yes' if caps.root else 'no'}")
        click.echo(f"  bubblewrap: {caps.bwrap or 'not installed'}"
                   + (" (works)" if caps.bwrap_works else (" (does not work)" if caps.bwrap else "")))
        for note in caps.notes:
            click.echo(f"  note: {note}")
        if not report["ok"]:
            click.echo(f"refusing untrusted code: {active.label} is below {floor.label}")
    if not report["ok"]:
        raise SystemExit(1)


@sandbox.command()
@click.argument("file", type=click.File("r"))
@click.option("--level", default=None, help="Isolation level (default: namespaces).")
@click.option("--timeout", default=10.0, show_default=True, help="Wall-clock seconds.")
def run(file, level: str | None, timeout: float) -> None:
    """Run a Python FILE in the sandbox as `python FILE` would; print its output and status."""
    from harness.sandbox import Limits, Sandbox

    with Sandbox(level, workers=1, preload=["harness.sandbox.scripts"]) as box:
        result = box.run("harness.sandbox.scripts:run_script", {"code": file.read()},
                         limits=Limits(wall_seconds=timeout, cpu_seconds=max(1, int(timeout))))
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    click.echo(f"[{result.level}] status={result.status} exit_code={result.exit_code} "
               f"signal={result.signal} wall={result.wall_seconds:.3f}s"
               + (f" error={result.error}" if result.error else ""), err=True)
    raise SystemExit(0 if result.succeeded else 1)
