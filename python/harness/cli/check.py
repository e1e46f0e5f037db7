"""`harness check environment NAME`: does an environment keep the environment contract?"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from harness.conformance import CheckConfig
from harness.options import click_options, from_cli


@click.group()
def check() -> None:
    """Check that a plugin keeps the harness's contracts (docs/plugins.md)."""


@check.command()
@click.argument("name")
@click_options(CheckConfig)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
def environment(name: str, as_json: bool, quiet: bool, **values: Any) -> None:
    """Check the environment NAME (a registered one, or module:Class) against every rule.

    It lists the tasks, plays the first task of each split with two seeds (the --actions
    given, or probes built from the prompt, then garbage until the episode ends), replays
    them, plays them again in a rebuilt environment and in another process, and runs one
    episode through the rollout engine with the scripted backend. Each failure names the
    rule, the task, the seed, the step and what differed; the exit status is 1 on any failure.
    """
    from harness.conformance import EnvBuildError, run_check

    try:
        config = from_cli(CheckConfig, values)
        report = run_check(name, config, progress=None if quiet else _progress)
    except (ValueError, LookupError, TypeError, EnvBuildError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(report.text(summary=False))
    click.echo(report.summary(), err=True)
    if not report.ok:
        sys.exit(1)


def _progress(message: str) -> None:
    click.echo(f"... {message}", err=True)
