"""`harness plugins`: what is installed, its version, and what each plugin registers."""

from __future__ import annotations

import json
from typing import Any

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--forget-hook-failures", is_flag=True,
              help="Empty the log of hook failures (after fixing the plugins it names), then list.")
def plugins(as_json: bool, forget_hook_failures: bool) -> None:
    """List plugins (entry-point group `harness`), their versions and what each registers.

    Failures (a plugin that did not import or called sys.exit, a wrong hook signature, a
    registrar that raised), names registered by two plugins, and lifecycle hooks of the
    installed versions that raised in earlier runs (logged in $HARNESS_CACHE) are listed too;
    the exit status is 1 when there are any.
    Set HARNESS_PLUGINS / HARNESS_PLUGINS_BLOCK to comma-separated names to allow or block.
    """
    from harness.plugins import forget_hook_failures as forget
    from harness.plugins import hook_failure_log, load, logged_hook_failures

    if forget_hook_failures:
        forget()
    registry = load()
    report: dict[str, Any] = {
        "plugins": [
            {
                "name": p.name,
                "distribution": p.distribution,
                "version": p.version,
                "registers": [
                    {"kind": r.kind, "name": r.name} for r in registry.provided_by(p)
                ],
            }
            for p in registry.plugins
        ],
        "failures": [
            {"name": f.name, "distribution": f.distribution, "version": f.version, "error": f.error}
            for f in registry.failures
        ],
        "conflicts": [
            {"kind": kind, "name": name, "distributions": [r.plugin.distribution for r in regs]}
            for (kind, name), regs in sorted(registry.conflicts.items())
        ],
        "skipped": [
            {"name": p.name, "distribution": p.distribution} for p in registry.skipped
        ],
        "hook_failures": logged_hook_failures(registry),
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for p in report["plugins"]:
            click.echo(f"{p['distribution']} {p['version']} (entry point {p['name']})")
            for r in p["registers"]:
                click.echo(f"  {r['kind']:<12} {r['name']}")
            if not p["registers"]:
                click.echo("  (registers nothing)")
        for f in report["failures"]:
            click.echo(
                f"FAILED {f['distribution']} {f['version']} (entry point {f['name']}): {f['error']}"
            )
        for c in report["conflicts"]:
            click.echo(
                f"CONFLICT {c['kind']} {c['name']!r} registered by "
                + " and ".join(c["distributions"])
            )
        for h in report["hook_failures"]:
            click.echo(
                f"HOOK FAILED {h['distribution']} {h['version']} (entry point {h['entry_point']}): "
                f"{h['hook']} raised in {h['runs']} run(s), last at {h['time']} ({h['command']}): {h['error']}"
            )
        if report["hook_failures"]:
            click.echo(f"  (logged in {hook_failure_log()}; --forget-hook-failures empties it)")
        for s in report["skipped"]:
            click.echo(f"skipped {s['distribution']} (entry point {s['name']}) by allow/block list")
        if not report["plugins"] and not report["failures"]:
            click.echo("no plugins installed")
    if report["failures"] or report["conflicts"] or report["hook_failures"]:
        raise SystemExit(1)
