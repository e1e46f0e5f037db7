"""`harness view`: write the rollout viewer, one static HTML page of episodes (see harness.viewer)."""

from __future__ import annotations

from typing import Literal

import click


@click.command()
@click.argument("episodes", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The HTML page to write (replaced atomically).")
@click.option("--title", default=None, help="Title of the page.  [default: Rollout viewer]")
@click.option("--errors", type=click.Choice(["raise", "skip"]), default="raise", show_default=True,
              help="raise: a malformed line or invalid episode stops with its file:line:field; "
                   "skip: leave it out and count it in the page's header.")
@click.option("--allow-empty", is_flag=True, help="Write the page even when no episode is left to show.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def view(episodes: tuple[str, ...], output: str, title: str | None, errors: Literal["raise", "skip"], allow_empty: bool,
         quiet: bool) -> None:
    """Write one self-contained HTML page showing EPISODES (JSONL files, or run directories
    holding shards).

    The page needs no server and loads nothing from the network: open it in any browser. It
    lists the episodes in pages with filters (environment, outcome, reward range, doctored,
    verdict per verifier, search) and shows each one's conversation, step statuses and
    rewards, guess history, verdicts, and the links between doctored episodes and their
    parents. The URL fragment holds the view (e.g. page.html#env=connections&page=2), so a
    view can be shared as a link.
    """
    from harness.viewer import write_view

    try:
        report = write_view(list(episodes), output, title=title, errors=errors, allow_empty=allow_empty,
                            progress=not quiet)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{report.summary()} -> {output}", err=True)
