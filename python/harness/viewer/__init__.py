"""The rollout viewer: one static, self-contained HTML page for reading episodes.

    from harness.viewer import Plot, Table, Text, write_view

    write_view(["data/rollouts/connections"], "page.html", title="Loop 3",
               sections=[Plot("Reward", figure), Table("Per loop", ["loop", "good"], [[1, 12]])])

The page needs no server and loads nothing: its styles, script, plots and episodes are inside
it. It lists the episodes with filters (environment, outcome, reward range, doctored, verdict
per verifier, a text search) in pages, and shows one episode at a time: the conversation, each
step's status and reward, the guess history of games that record guesses, the verdicts, and
links between a doctored episode and its parent. `harness view` is the same from the command
line. See docs/viewer.md.
"""

from harness.viewer.page import CHUNK_SIZE, ViewReport, write_view
from harness.viewer.sections import Plot, Section, Table, Text

__all__ = ["CHUNK_SIZE", "Plot", "Section", "Table", "Text", "ViewReport", "write_view"]
