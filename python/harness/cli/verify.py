"""`harness verify`: judge episodes with a verifier and append the verdicts (see harness.verify)."""

from __future__ import annotations

from typing import Any

import click

from harness.options import click_options, from_cli
from harness.verify import VerifyConfig


@click.command()
@click.argument("episodes", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Directory for the verified episodes (same file names as the inputs).")
@click_options(VerifyConfig)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def verify(episodes: tuple[str, ...], output: str, quiet: bool, **values: Any) -> None:
    """Verify EPISODES (JSONL files, or run directories holding shards) into OUTPUT.

    Each episode gets the verifier's verdict appended to its `verification` list. An episode
    that already has a verdict of this verifier's name and version is copied unchanged, so
    rerunning after a crash resumes, and a new verifier version re-judges everything.
    Infrastructure failures are `no_verdict`: counted, and the exit status is 1 unless
    --allow-no-verdict.
    """
    from harness.episode_files import episode_files
    from harness.verify import verify_files

    try:
        config = from_cli(VerifyConfig, values)
        report = verify_files(episode_files(episodes), output, config, progress=not quiet)
    except (ValueError, LookupError, RuntimeError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{report.summary()} -> {output}", err=True)
