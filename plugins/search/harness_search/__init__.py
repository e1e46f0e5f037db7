"""The `search` environment: a search agent over a local BM25 index (seed 002's step language).

    from harness_search import SearchEnvironment, to_trace

    env = SearchEnvironment(top_k=3)                 # the shipped corpus and questions
    session = env.start(env.task("q-001"), seed=0)
    session.step("<think>Look it up.</think>\n<search>Orrendale founded</search>")
    session.step("<answer>1412</answer>")

`to_trace` turns a finished episode record into seed 002's `{question, trace}` shape.
"""

from harness_search.environment import SearchEnvironment, SearchSession
from harness_search.trace import to_trace

__all__ = ["SearchEnvironment", "SearchSession", "to_trace"]
