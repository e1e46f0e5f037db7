"""Per-loop statistics of a doctoring loop: a table, a plot, and the same figures as JSON.

`write_stats(results_dir, loops, final)` writes, beside the results,

- `stats.json`: one object per loop (the journal's counts) and the final analysis, for reports;
- `stats.md`: the table a person reads (good and bad puzzles, what each loop ran, the share of
  those that turned good, how the doctored and the fresh games did);
- `good_per_loop.png`: good examples per loop (matplotlib, no display needed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write

COLUMNS = ("loop", "good", "bad", "delta", "ran", "conversion", "doctored", "doctored_good",
           "fresh", "fresh_good", "salvageable", "unsalvageable", "missing")


def table_rows(loops: Sequence[Any], final: Any | None) -> list[dict[str, Any]]:
    """One row per loop: what was analysed at its start, what it ran, and (from the next
    analysis) how many of the puzzles it ran are good now."""
    stats = list(loops) + ([final] if final is not None else [])
    rows = []
    for i, s in enumerate(stats):
        after = stats[i + 1] if i + 1 < len(stats) else None
        ran = s.doctored + s.fresh
        gained = after.delta if after is not None else None
        rows.append({
            "loop": "final" if s.status == "final" else s.loop,
            "good": s.good, "bad": s.bad, "delta": s.delta, "ran": ran,
            "conversion": round(100.0 * gained / ran, 1) if gained is not None and ran else None,
            "doctored": s.doctored,
            "doctored_good": after.converted_doctored if after is not None else None,
            "fresh": s.fresh,
            "fresh_good": after.converted_fresh if after is not None else None,
            "salvageable": s.salvageable, "unsalvageable": s.unsalvageable, "missing": s.missing,
            "tokens_doctored": s.tokens_doctored, "tokens_fresh": s.tokens_fresh,
        })
    return rows


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    head = ["loop", "good", "bad", "Δ good", "ran", "ran → good", "doctored", "→ good", "fresh", "→ good",
            "salvageable", "unsalvageable", "missing"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r[c] for c in COLUMNS]
        cells[5] = f"{r['conversion']:.1f} %" if r["conversion"] is not None else ""
        lines.append("| " + " | ".join("" if c is None else str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: Sequence[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(r["loop"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.bar(labels, [r["good"] for r in rows], color="#3a7d44", label="good")
    ax.bar(labels, [r["bad"] for r in rows], bottom=[r["good"] for r in rows], color="#c8553d", label="bad")
    ax.set_xlabel("loop (analysis at its start)")
    ax.set_ylabel("puzzles")
    ax.set_title("Good examples per loop")
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_write(path, binary=True) as f:
        fig.savefig(f, format="png")
    plt.close(fig)


def write_stats(results_dir: str | Path, loops: Sequence[Any], final: Any | None) -> list[Path]:
    directory = Path(results_dir)
    rows = table_rows(loops, final)
    with atomic_write(directory / "stats.json") as f:
        json.dump({"loops": [asdict(s) for s in loops], "final": asdict(final) if final is not None else None,
                   "table": rows}, f, indent=2, sort_keys=True)
        f.write("\n")
    with atomic_write(directory / "stats.md") as f:
        f.write(markdown(rows))
    plot(rows, directory / "good_per_loop.png")
    return [directory / n for n in ("stats.json", "stats.md", "good_per_loop.png")]
