"""The main job's report: before-and-after figures read back from episode files, the plots, and
one HTML page (the rollout viewer with those plots and tables above the episodes).

    from harness.report import game_figures, write_main_job_report

    before = game_figures("base model", ["data/verified/base"])
    after = game_figures("with the adapter", ["data/verified/adapter"])
    before.valid_turns, before.turns, after.wins, after.mean_reward

Every figure is counted from the episodes themselves (steps' `status.valid`, `outcome.success`,
`reward`), never taken from a stage's own summary. See docs/main_job.md.
"""

from harness.report.figures import GameFigures, game_figures
from harness.report.main_job import MainJobReport, figures_table, write_main_job_report
from harness.report.plots import good_bad_chart, loss_chart, reward_chart

__all__ = ["GameFigures", "MainJobReport", "figures_table", "game_figures", "good_bad_chart", "loss_chart",
           "reward_chart", "write_main_job_report"]
