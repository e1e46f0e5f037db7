"""The texts the environment writes: the task prompt and the feedback on invalid steps."""

from __future__ import annotations

from harness_search.actions import MAX_QUERY_CHARS

FORMAT = (
    "Each turn, think inside <think> and </think>, then do exactly one of:\n"
    "- <search>query</search> to search the documents; the best matches come back inside "
    "<information> and </information>;\n"
    "- <answer>answer</answer> to give a short final answer, which ends the task."
)


def task_prompt(question: str, *, top_k: int, max_searches: int, max_turns: int) -> str:
    return (
        "Answer the question below, using a search engine over a collection of documents.\n\n"
        f"{FORMAT}\n\n"
        f"A search returns up to {top_k} documents. You may search {max_searches} "
        f"time{'s' if max_searches != 1 else ''} and take {max_turns} "
        f"turn{'s' if max_turns != 1 else ''} in all.\n\n"
        f"Question: {question}"
    )


_PROBLEMS = {
    "no_action_tag": "your message has no complete <search>…</search> or <answer>…</answer> tag "
    "outside the <think> block",
    "search_and_answer": "your message both searches and answers; do one of them per turn",
    "multiple_search_tags": "your message has more than one <search> tag; search once per turn",
    "multiple_answer_tags": "your message has more than one <answer> tag; give one answer",
    "empty_query": "the <search> tag is empty; write a query inside it",
    "empty_answer": "the <answer> tag is empty; write your answer inside it",
    "query_too_long": f"the query is longer than {MAX_QUERY_CHARS} characters; use a few keywords",
    "max_searches_reached": "you have used all your searches; answer now with <answer>…</answer>",
}


def feedback(reason: str) -> str:
    return f"Invalid step: {_PROBLEMS[reason]}.\n\n{FORMAT}"
