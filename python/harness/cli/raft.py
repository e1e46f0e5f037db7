"""`harness raft`: RAFT cycles on code problems (see harness.rlvr.raft, docs/rlvr.md)."""

from __future__ import annotations

from typing import Any

import click

from harness.options import click_options, from_cli
from harness.rlvr.raft import RaftConfig


def config_from_cli(cls: type, section: str, config_file: str | None, values: dict[str, Any]) -> Any:
    """`cls` from a command's values, the configuration file's `section` filling in every
    setting not given on the command line."""
    from harness.rlvr.config_files import file_overrides, section_values

    ctx = click.get_current_context()
    given = {name: ctx.get_parameter_source(name) in (click.core.ParameterSource.COMMANDLINE,
                                                     click.core.ParameterSource.ENVIRONMENT)
             for name in values}
    return from_cli(cls, values, **file_overrides(cls, section_values(config_file, section), given))


def user_errors() -> tuple[type[BaseException], ...]:
    from harness.engine.lock import LockHeld
    from harness.plugins import PluginError
    from harness.train.data import TrainDataError

    return (ValueError, LookupError, LockHeld, PluginError, TrainDataError, OSError)


@click.command()
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Run directory: cycle-N/{samples,verified,kept,train}, cycle-N/cycle.json, stats.json, stats.md.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="A YAML run configuration (configs/validation_run.yaml): its `raft` section gives the "
                   "settings not given here.")
@click_options(RaftConfig)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def raft(output: str, config_file: str | None, quiet: bool, **values: Any) -> None:
    """RAFT: per cycle, sample completions of every prompt with the current adapter, verify them in
    the sandbox, keep by policy, fine-tune one epoch of LoRA on the kept samples (the loss on the
    completion only), and start the next cycle from the new adapter.

    A rerun does what is missing only: a finished cycle is never redone, and a cycle killed
    midway resumes inside its stage. More --cycles continues a finished run. At the end it
    prints the stats of every cycle (also in OUTPUT/stats.json and stats.md).
    """
    from harness.rlvr.raft import raft as run

    try:
        config = config_from_cli(RaftConfig, "raft", config_file, values)
        report = run(config, output, progress=not quiet, say=lambda line: click.echo(line, err=True))
    except user_errors() as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.table())
    click.echo(f"{report.summary()} -> {output} (stats.json, stats.md)", err=True)
