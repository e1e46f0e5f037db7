"""A search episode as the seed 002 trace `{question, trace: [step...]}` its formatters read.

    trace = search_trace(episode)

Two kinds of episodes come here:

- episodes of a search environment (the `search` plugin's, or another that follows the step
  mapping of docs/episode.md): each valid step becomes, in order,

      {"type": "reasoning", "content": …}                       when the step has reasoning
      {"type": "search", "query": …}                            a search
      {"type": "search_result", "documents": [{title, content}]} the documents it returned
      {"type": "CorrectAnswer", "content": …}                   the answer of a successful episode
      {"type": "answer", "content": …}                          any other answer

  Seed 002's traces only ever end in `CorrectAnswer` (they were filtered to correct runs), so a
  wrong or unscored answer gets the plain `answer` type: it renders the same
  (`<answer>\\n…\\n</answer>`) but a formatter can tell the two apart. Invalid steps are left
  out: their text is neither reasoning nor an action of the step language, and the feedback
  they got is not a search result. A search on the episode's last turn was never run, so it has
  no `search_result`. The fields are read from `step.info` (`reasoning`, `search.query`,
  `documents`, `answer`).
- seed 002 traces brought in by `harness import seed002`: each step's `info.seed002` holds the
  trace steps of that turn exactly as the seed's file had them, so the trace is rebuilt as it
  was.
"""

from __future__ import annotations

from typing import Any

from harness.episode import Episode, EpisodeError, validate_episode

__all__ = ["is_search_episode", "search_trace"]


def is_search_episode(episode: Episode) -> bool:
    """A `search` environment's episode, or one that follows its step mapping (a string question
    in the task, steps that search or answer), or an imported seed 002 trace."""
    if episode.env.name == "search":
        return True
    if not isinstance(episode.task.data.get("question"), str):
        return False
    return any("seed002" in s.info or "search" in s.info or "answer" in s.info for s in episode.steps)


def search_trace(episode: Episode | dict[str, Any]) -> dict[str, Any]:
    """The seed 002 trace of a search episode (an `Episode` or its JSON record)."""
    if not isinstance(episode, Episode):
        episode = validate_episode(episode)
    question = episode.task.data.get("question")
    if not isinstance(question, str):
        raise EpisodeError("<memory>", None, "/task/data/question", "a search episode needs the question as a string")
    if any("seed002" in step.info for step in episode.steps):
        return {"question": question, "trace": [s for step in episode.steps for s in step.info.get("seed002", [])]}
    answer_type = "CorrectAnswer" if episode.outcome.success else "answer"
    trace: list[dict[str, Any]] = []
    for step in episode.steps:
        if not step.status.valid:
            continue
        info = step.info
        if info.get("reasoning"):
            trace.append({"type": "reasoning", "content": info["reasoning"]})
        if "search" in info:
            trace.append({"type": "search", "query": info["search"]["query"]})
            if "documents" in info:
                documents = [{"title": d["title"], "content": d["content"]} for d in info["documents"]]
                trace.append({"type": "search_result", "documents": documents})
        elif "answer" in info:
            trace.append({"type": answer_type, "content": info["answer"]})
    return {"question": question, "trace": trace}
