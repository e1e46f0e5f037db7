"""Property: replaying any recorded action history gives the same state and observations.

Actions are drawn from a small set of snippets (state-building, hooks, errors, seeded randomness,
set printing, invalid messages, unicode, submissions). Every example starts real interpreter
processes, so the example count is kept low.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_analysis_episodes import play
from harness_data_analysis.environment import DataAnalysisEnvironment

ENV = DataAnalysisEnvironment(csvs=["iris"], max_turns=5, exec_timeout_s=60, memory_mb=1024)
TASK = ENV.task("iris-column_mean-00")

SNIPPETS = [
    "Count rows.\n```python\nn = len(df)\nprint(n)\n```",
    "```python\nm = df.iloc[:, 0].mean()\nhook(m, name='m')\n```",
    "```python\nprint(n * 2)\n```",  # a NameError unless `n` was defined earlier
    "```python\nimport random\nprint(random.random(), np.random.rand())\n```",
    "```python\nprint({'b', 'a', 'c'}, {3.5: 'x'})\n```",
    "```python\n1/0\n```",
    "I am not sure what to do.",
    "```python\nprint('é ü 漢字 🎉')\n```",
    "```python\nd = df.describe()\nhook(d.loc['mean'], name='means')\nd.shape\n```",
    "```python\nsubmit(round(float(m), 2))\n```",
    "```python\nsubmit(df.shape[0])\n```",
]


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(st.lists(st.sampled_from(SNIPPETS), min_size=1, max_size=4), st.integers(0, 3))
def test_replaying_the_history_gives_the_same_state(actions, seed):
    original = play(ENV, TASK, seed, actions)
    taken = [s.action for s in original.steps]
    replayed = ENV.start(TASK, seed, taken)
    replayed.close()
    assert replayed.state() == original.state()
    assert [s.observation for s in replayed.steps] == [s.observation for s in original.steps]
    assert [(s.status, s.reward, s.done) for s in replayed.steps] == [
        (s.status, s.reward, s.done) for s in original.steps
    ]
    assert replayed.summary().reward == original.summary().reward
