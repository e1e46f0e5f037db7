"""The main job's closing report: a table of the figures, the HTML page (the rollout viewer with
the plots and tables above the episodes), `figures.json` and `summary.txt` (what the job prints
at the end: where every output is, the table, the page)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.atomic import atomic_write
from harness.report.figures import GameFigures
from harness.report.plots import good_bad_chart, loss_chart, reward_chart
from harness.viewer import Plot, Section, Table, Text, write_view

COLUMNS = ["stage", "episodes", "valid turns", "won", "mean reward", "errors"]


@dataclass(frozen=True)
class MainJobReport:
    page: Path
    figures: Path
    summary: Path
    text: str
    """What summary.txt holds."""


def figures_table(stages: Sequence[GameFigures]) -> list[str]:
    """The figures as aligned text lines, a header first."""
    rows = [COLUMNS] + [[s.label, str(s.episodes), f"{s.valid_turns}/{s.turns}", f"{s.wins}/{s.episodes}",
                         f"{s.mean_reward:.3f}", str(s.errors)] for s in stages]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
            for r in rows]


def write_main_job_report(
    out_dir: str | os.PathLike[str],
    *,
    stages: Sequence[GameFigures],
    good_bad: Sequence[tuple[str, int, int]],
    loss_log: str | os.PathLike[str],
    episodes: Sequence[str | os.PathLike[str]],
    outputs: Mapping[str, str | os.PathLike[str]],
    notes: Sequence[str] = (),
    title: str = "Main job: Connections with SmolLM2-135M",
) -> MainJobReport:
    """Write `report.html`, `figures.json` and `summary.txt` into `out_dir`. `stages` are the
    figures compared (before, after, …), `good_bad` the (label, good, bad) bars, `episodes` the
    episode files or directories the page shows, `outputs` what the summary lists (label → path),
    `notes` lines said under the table (what the figures mean, honestly)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    page, figures, summary = out / "report.html", out / "figures.json", out / "summary.txt"
    table = Table("Before and after", COLUMNS,
                  [[s.label, s.episodes, f"{s.valid_turns}/{s.turns}", f"{s.wins}/{s.episodes}", s.mean_reward,
                    s.errors] for s in stages],
                  caption="Counted from the episode records: steps whose status is valid, outcome.success, reward.")
    sections: list[Section] = [table]
    if notes:
        sections.append(Text("What this means", "\n".join(notes)))
    sections += [
        Plot("Reward distribution", reward_chart(stages)),
        Plot("Good and bad per loop", good_bad_chart(good_bad),
             caption="good: won by the rules (the connections-rules verifier's pass)"),
        Plot("Loss curve", loss_chart(loss_log)),
        Table("Outputs", ["what", "where"], [[k, str(Path(v).absolute())] for k, v in outputs.items()]),
    ]
    view = write_view([p for p in episodes if Path(p).exists()], page, title=title, sections=sections)
    with atomic_write(figures) as f:
        json.dump({"stages": [s.to_dict() for s in stages],
                   "good_bad": [{"label": label, "good": g, "bad": b} for label, g, b in good_bad]}, f, indent=2)
        f.write("\n")
    width = max(len(k) for k in [*outputs, "report (HTML)"])
    lines = ["outputs:"] + [f"  {k:<{width}}  {Path(v).absolute()}" for k, v in outputs.items()]
    lines += ["", *figures_table(stages), *notes, ""]
    lines.append(f"  {'report (HTML)':<{width}}  {page.absolute()}  ({view.episodes} episodes, the viewer and plots)")
    text = "\n".join(lines) + "\n"
    with atomic_write(summary) as f:
        f.write(text)
    return MainJobReport(page=page.absolute(), figures=figures.absolute(), summary=summary.absolute(), text=text)
