"""Episode record → seed 002 trace `{question, trace: [step...]}`, for the seed 002 formatters.

Each valid step of the episode becomes, in order:

    {"type": "reasoning", "content": …}                       when the step has reasoning
    {"type": "search", "query": …}                            a search
    {"type": "search_result", "documents": [{title, content}]} the documents it returned
    {"type": "CorrectAnswer", "content": …}                   the answer of a successful episode
    {"type": "answer", "content": …}                          any other answer

Seed 002's traces only ever end in `CorrectAnswer` (they were filtered to correct runs), so a wrong
or unscored answer gets the plain `answer` type: it renders the same (`<answer>\\n…\\n</answer>`)
but a formatter can tell the two apart. Invalid steps are left out: their text is neither
reasoning nor an action of the step language, and the feedback they got is not a search result.
A search on the episode's last turn was never run, so it has no `search_result`.

The step fields are read from `step.info` (`reasoning`, `search.query`, `documents`, `answer`),
the mapping docs/episode.md gives for search episodes, so episodes from other search
environments that follow it convert too.
"""

from __future__ import annotations

from typing import Any

from harness.episode import Episode, EpisodeError, validate_episode


def to_trace(episode: Episode | dict[str, Any]) -> dict[str, Any]:
    """The seed 002 trace of an episode (an `Episode` or its JSON record)."""
    if not isinstance(episode, Episode):
        episode = validate_episode(episode)
    question = episode.task.data.get("question")
    if not isinstance(question, str):
        raise EpisodeError("<memory>", None, "/task/data/question", "a search episode needs the question as a string")
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
