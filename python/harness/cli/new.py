"""`harness new environment NAME`: write a plugin package to start an environment from."""

from __future__ import annotations

import click


@click.group()
def new() -> None:
    """Start a plugin of your own from a working package (docs/tutorial.md)."""


@new.command()
@click.argument("name")
@click.option("-o", "--output", type=click.Path(file_okay=False),
              help="Directory to write the package into (must not exist, or be empty).  "
                   "[default: harness-NAME]")
def environment(name: str, output: str | None) -> None:
    """Write a package for the environment NAME (e.g. word-guess), ready for `pip install -e`.

    It holds a pyproject with the `harness` entry point, the environment module (a small
    working game to replace with yours), the plugin module registering it, a test running the
    conformance check and one scripted episode through the rollout engine, and a README.
    """
    from harness.scaffold import ScaffoldError, names_for, new_environment

    try:
        written = new_environment(name, output)
    except (ScaffoldError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    names = names_for(name, output)
    for path in written:
        click.echo(path)
    directory = names.directory
    click.echo(
        f"\nwrote {len(written)} files into {directory}/: the {name} environment "
        f"({names.package}.environment.{names.class_name}). Next:\n"
        f"  pip install -e '{directory}[test]'\n"
        f"  harness check environment {name}\n"
        f"  pytest {directory}",
        err=True,
    )
