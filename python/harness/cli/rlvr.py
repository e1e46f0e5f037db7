"""`harness rlvr …`: seed 003's datasets and pass@k across checkpoints (see docs/rlvr.md).

    harness rlvr prepare -o data/rlvr --source local --mbpp-path mbpp.jsonl
    harness rlvr passk -o runs/passk --raft-run runs/raft --samples-per-task 10
"""

from __future__ import annotations

from typing import Any

import click

from harness.cli.raft import config_from_cli, user_errors
from harness.options import click_options
from harness.rlvr.checkpoints import PassAtKConfig
from harness.rlvr.prepare import PrepareConfig

CONFIG_HELP = (
    "A YAML run configuration (configs/validation_run.yaml): its `{}` section gives the settings not given here."
)


@click.group()
def rlvr() -> None:
    """RLVR on HumanEval and MBPP: prepare the datasets, measure pass@k across checkpoints.
    RAFT itself is `harness raft`."""


@rlvr.command()
@click.option("-o", "--output", "--output-dir", "output", type=click.Path(file_okay=False),
              help="Where the files go (created). Default: the configuration file's prepare.output, else data/rlvr.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help=CONFIG_HELP.format("prepare"))
@click_options(PrepareConfig)
def prepare(output: str | None, config_file: str | None, **values: Any) -> None:
    """Write the RLVR files: HumanEval and MBPP prompts, full (with tests) and solution files per
    split, validation subsets, sanitized MBPP, and dataset_summary.json (written last)."""
    from harness.rlvr.config_files import section_values
    from harness.rlvr.prepare import PrepareError, prepare_config, report_lines

    ctx = click.get_current_context()
    to_stdout = bool((ctx.obj or {}).get("report_to_stdout"))  # python -m harness.rlvr.prepare: the seed's way
    try:
        config = config_from_cli(PrepareConfig, "prepare", config_file, values)
        output = output or section_values(config_file, "prepare").get("output") or "data/rlvr"
        summary = prepare_config(config, output)
    except (PrepareError, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    for line in report_lines(summary, output):
        click.echo(line, err=not to_stdout)


@rlvr.command()
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Directory: {checkpoint}/samples and verified, passk.json, passk.md, passk.png, manifest.json.")
@click.option("--raft-run", type=click.Path(exists=True, file_okay=False),
              help="A RAFT run directory (harness raft -o): its base model and every finished cycle's adapter.")
@click.option("--checkpoint", "extra", multiple=True, metavar="LABEL=PATH",
              help="Another checkpoint: an adapter directory (on the base model) or a model (repeatable).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help=CONFIG_HELP.format("passk"))
@click_options(PassAtKConfig)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def passk(output: str, raft_run: str | None, extra: tuple[str, ...], config_file: str | None, quiet: bool,
          **values: Any) -> None:
    """pass@k of the base model, the SFT adapter (--sft-adapter, or the one the RAFT run started
    from), each RAFT cycle's adapter and any --checkpoint: N samples per problem at temperature
    0.7, verified in the sandbox, the unbiased estimator for each k <= n. Prints the table; a
    run where some samples got no verdict says so and exits 1 unless --allow-no-verdict.
    """
    from harness.rlvr.checkpoints import NoVerdicts, parse_checkpoint, pass_at_k_across, passk_table, raft_checkpoints

    try:
        config = config_from_cli(PassAtKConfig, "passk", config_file, values)
        checkpoints = raft_checkpoints(raft_run, config, [parse_checkpoint(e) for e in extra])
        report = pass_at_k_across(checkpoints, output, config, progress=not quiet,
                                  say=lambda line: click.echo(line, err=True))
    except NoVerdicts as exc:
        raise click.ClickException(str(exc)) from None
    except user_errors() as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(passk_table(report))
    click.echo(f"pass@k of {len(report['checkpoints'])} checkpoints on {report['problems']} problems, "
               f"n={report['n']} -> {output} (passk.json, passk.md, passk.png)", err=True)
