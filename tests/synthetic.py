"""Realistic synthetic episode files, fast enough to make a gigabyte in seconds.

Used by the tests (tests/test_synthetic.py, fixtures of the formatter and viewer tests) and by the
JSONL benchmarks (bench/jsonl.py). Every record is a valid episode (`harness.episode`) from one of
four env kinds that mirror the seed pipelines:

- `connections`: multi-turn word-group games (correct / one_away / incorrect / invalid / auto),
  some of them doctored (with a `parent` link and `resumed_from_guess_history`);
- `data-analysis`: pandas code turns with long code strings (quotes, backslashes, tabs,
  newlines), stdout, value hooks, verdicts, and a failed episode with an `error`;
- `search`: search / documents / answer traces with long documents;
- `code`: MBPP / HumanEval style single-turn episodes with pass / fail / no_verdict verdicts.

Text mixes ASCII with accents, CJK and emoji. Records are 1-20 KB.

How it is fast: a small pool of episodes (a dozen per kind, sizes spread over 1-20 KB) is built,
validated and serialised once; the fields that vary per record (episode id, task id, seed,
sample index, reward, timestamp, parent id) are left as holes in the serialised bytes, and each
record is the pieces of one template joined with its values. Generation costs a few
microseconds per record; the rest is disk.

Task ids: task `t` (0 <= t < unique_tasks) always has the same kind and id: `puzzle-000007`,
`csv-q-000001`, `search-000002`, and for code either the string `HumanEval/3` or the integer
`11` (MBPP ids are integers). String ids all carry a prefix, so no integer id equals a string
id under the `str()` key semantics of `harness.jsonl`. The first `unique_tasks` records use every
task once (in a shuffled order), later ones pick tasks at random: deduplicating by `/task/id`
leaves `min(records, unique_tasks)` keys.

Output is deterministic for a given seed (and the same JSON library: orjson when installed,
else the standard `json`).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.atomic import atomic_write
from harness.episode import SCHEMA_VERSION, Episode

try:  # optional: faster, and the same bytes as json.dumps for everything used here but floats
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

__all__ = ["KINDS", "MAX_RECORD_BYTES", "MIN_RECORD_BYTES", "SyntheticStats", "write_synthetic_episodes"]

KINDS = ("connections", "data-analysis", "search", "code")
MIN_RECORD_BYTES = 1024
MAX_RECORD_BYTES = 20 * 1024
_TEMPLATES_PER_KIND = 12
_HARNESS_VERSION = "0.1.0"


@dataclass(frozen=True)
class SyntheticStats:
    """What `write_synthetic_episodes` wrote."""

    records: int
    bytes: int
    unique_tasks: int


def _dumps(obj: Any) -> bytes:
    if _orjson is not None:
        return _orjson.dumps(obj)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Text pools (our own writing)
# --------------------------------------------------------------------------------------------

_SENTENCES = [
    "Let me look at the remaining words again before committing.",
    "The obvious grouping is often a red herring, so I should check for overlaps.",
    "Several words could belong to more than one group; I'll start with the safest set.",
    "Au café de la gare, on parle d'élève naïf et de crème brûlée — accents everywhere.",
    "Zürich, São Paulo and Kraków show up in the data with their diacritics intact.",
    "東京と大阪のデータを比較すると、平均値に差があります。",
    "数据分析的第一步是检查缺失值和异常值。",
    "서울의 인구 데이터는 연도별로 정리되어 있습니다.",
    "That worked 🎉 — the intermediate value matches what I expected 🙂.",
    "Rocket 🚀 launches per year peaked in the last decade, per the table.",
    "The column names contain spaces and a tab\tcharacter, which needs care.",
    'She said "it depends" and wrote C:\\temp\\data.csv on the whiteboard.',
    "The regex \\d+\\.\\d* matches the decimal numbers in the log lines.",
    "Ω, π and ∑ appear in the physics questions; the answer uses µm, not mm.",
    "I should double-check the one-away feedback: three of the four words are right.",
    "Grouping by the category and taking the mean gives a Series indexed by category.",
    "The first document mentions the date, and the second confirms it independently.",
    "Nothing in the results contradicts the earlier reasoning, so the answer stands.",
    "A quick sanity check: the totals add up to the number of rows in the frame.",
    "Edge cases: an empty string, a single character, and repeated whitespace.",
    "Jørn, Ærø and Ødegaard are Danish and Norwegian names with special letters.",
    "Straße and Maß keep their ß; Größe is measured in centimetres.",
    "The temperature column is in °C and ranges from −12.5 to 38.1.",
    "Überprüfen wir die Annahme noch einmal, bevor wir antworten.",
]

_CONNECTIONS_GROUPS = [
    ("Things with keys", ["PIANO", "KEYBOARD", "MAP", "LOCKSMITH"]),
    ("___BALL", ["BASKET", "FOOT", "EYE", "SNOW"]),
    ("Shades of blue", ["NAVY", "TEAL", "COBALT", "AZURE"]),
    ("Poker terms", ["FLOP", "RIVER", "BLIND", "CALL"]),
    ("Coffee drinks", ["LATTE", "MOCHA", "CORTADO", "RISTRETTO"]),
    ("Planets minus a letter", ["MARS", "VENU", "EARTH", "SATUR"]),
    ("Units of time", ["SECOND", "MINUTE", "HOUR", "FORTNIGHT"]),
    ("Chess pieces", ["KING", "QUEEN", "ROOK", "BISHOP"]),
    ("French cheeses", ["BRIE", "COMTÉ", "ROQUEFORT", "MUNSTER"]),
    ("Famous bridges", ["GOLDEN GATE", "TOWER", "RIALTO", "BROOKLYN"]),
    ("Mountains", ["FUJI", "DENALI", "ELBRUS", "ACONCAGUA"]),
    ("Card games", ["SNAP", "RUMMY", "BRIDGE", "CRIBBAGE"]),
    ("Rivers", ["NILE", "AMAZON", "DANUBE", "MEKONG"]),
    ("Things that are blown", ["BUBBLE", "WHISTLE", "KISS", "FUSE"]),
]

_CODE_LINES = [
    "df = df.rename(columns={'Température (°C)': 'temp_c', 'Städt': 'city'})",
    "mask = df['city'].str.contains(r\"^S\\w+\", regex=True, na=False)",
    "df['path'] = df['path'].str.replace('\\\\', '/', regex=False)",
    'label = "He said \\"ok\\"\\tthen left"',
    "by_year = df.groupby('year')['value'].agg(['mean', 'median', 'count'])",
    "hook(by_year, name='by_year')",
    "top = df.nlargest(5, 'value')[['city', 'value']]",
    "print(top.to_string(index=False))",
    "pivot = df.pivot_table(index='region', columns='quarter', values='sales', aggfunc='sum')",
    "ratio = pivot['Q4'] / pivot['Q1'] - 1",
    "hook(ratio.round(3), name=\"q4_vs_q1\")",
    "cjk = df[df['name'].str.contains('東京|大阪')]",
    "print(f\"rows: {len(df)}\\tcols: {df.shape[1]}\")",
    "for col in ['a', 'b', 'c']:\n    df[col] = df[col].fillna(0)",
    "corr = df[['age', 'fare']].corr().iloc[0, 1]",
    "emoji_rows = df[df['comment'].str.contains('🙂|🎉', na=False)]",
    "summary = {k: float(v) for k, v in df['score'].describe().items()}",
    "print(json.dumps(summary, ensure_ascii=False, indent=2))",
]

_STDOUT_LINES = [
    "   city      value",
    "  Zürich   1234.50",
    "  São Paulo  987.25",
    "  東京     4521.00",
    "rows: 891\tcols: 12",
    "{\"mean\": 29.7, \"std\": 14.5, \"note\": \"ok 🙂\"}",
    "Q4 vs Q1: +12.4%",
    "C:\\data\\sales_2024.csv loaded",
    "warning: 3 rows dropped (NaN in 'âge')",
    "corr(age, fare) = 0.0961",
]

_DOC_TITLES = [
    "History of the Transit Line",
    "Kraków Old Town",
    "東京タワー",
    "List of Nobel laureates in Physics",
    "Sydney Opera House",
    "The Danube basin",
    "Café culture in Vienna",
    "Pritzker Architecture Prize",
    "Mount Elbrus",
    "Säo Tomé and Príncipe",
]


def _sentences(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(_SENTENCES) for _ in range(n)]


def _share(items: list[str], parts: int, k: int) -> list[str]:
    """The items that fall to part `k` when `items` are dealt round-robin into `parts` parts."""
    return items[k::parts]


def _provenance(rng: random.Random, seed: int, plugins: dict[str, str]) -> dict[str, Any]:
    return {
        "harness_version": _HARNESS_VERSION,
        "plugins": plugins,
        "created_at": "2025-03-01T00:00:00Z",
        "host": f"node-{rng.randrange(1, 33):02d}",
        "run_id": f"synthetic-{seed}",
    }


# --------------------------------------------------------------------------------------------
# One builder per kind: (rng, amount of filler, seed, target size, variant) -> episode dict.
# A bigger amount gives a bigger record; the target picks the structure (turns, documents) and
# the variant (the template's index) the story (won / lost / doctored / failed, pass / fail).
# Each also returns the key of its main reward component and the reward range.
# --------------------------------------------------------------------------------------------

Built = tuple[dict[str, Any], str, float, float, float]  # (record, main component, lo, hi, rest)


def _guess_tag(words: list[str]) -> str:
    return "<guess>[" + ", ".join(f"`{w}`" for w in words) + "]</guess>"


def _build_connections(rng: random.Random, amount: int, seed: int, target: int, variant: int) -> Built:
    groups = rng.sample(_CONNECTIONS_GROUPS, 4)
    all_words = [w for _, ws in groups for w in ws]
    shown = all_words[:]
    rng.shuffle(shown)
    small = target < 5000  # small records: a clean game, nothing doctored
    doctored = not small and variant % 3 == 2
    # Simulate a game.
    remaining = list(range(4))
    rng.shuffle(remaining)
    mistakes = 0
    turns: list[tuple[str, list[str], int | None, str]] = []  # (status, guess, category, message)
    history_kept: list[dict[str, Any]] = []
    if doctored:  # the parent's kept turn: one correct group
        g = remaining.pop()
        msg = f"Correct! {groups[g][0]}: {', '.join(groups[g][1])}"
        history_kept.append({"items": groups[g][1], "status": "correct", "category_idx": g, "result_message": msg})
    reason = "max_turns_reached"
    max_turns = 10 - len(history_kept)
    for _ in range(max_turns):
        r = 0.0 if small else rng.random()
        g = remaining[-1]
        words = list(groups[g][1])
        if r < 0.45:
            remaining.pop()
            turns.append(("correct", words, g, f"Correct! {groups[g][0]}: {', '.join(words)}"))
            if len(remaining) == 1:
                reason = "all_categories_found"
                break
        elif r < 0.65:  # three of group g and one word of another unfound group
            words[3] = groups[remaining[0]][1][rng.randrange(4)]
            mistakes += 1
            turns.append(("one_away", words, None, "One away! 3 of your 4 words belong to the same group."))
        elif r < 0.8:  # two words of each of two unfound groups
            other = groups[remaining[0]][1]
            words = [words[0], other[1], words[2], other[3]]
            mistakes += 1
            turns.append(("incorrect", words, None, "Incorrect."))
        else:
            words[2] = "DOORBELL"
            turns.append(("invalid", words, None, "Invalid guess: DOORBELL is not one of the words."))
        if mistakes >= 4:
            reason = "max_mistakes"
            break
    filler = _sentences(rng, amount)
    steps = []
    ptoks = 380 + 12 * len(history_kept)
    for k, (status, words, cat, msg) in enumerate(turns):
        reasoning = " ".join(_share(filler, len(turns), k)) or "Trying the most likely group."
        action = f"{reasoning}\n\n{_guess_tag(words)}"
        last = k == len(turns) - 1
        info: dict[str, Any] = {"guess": words, "category_idx": cat, "result_message": msg}
        if last and reason == "all_categories_found":
            a = remaining[0]
            info["auto_completed"] = {
                "guess": groups[a][1],
                "category_idx": a,
                "result_message": f"Auto-completed: {groups[a][0]}: {', '.join(groups[a][1])}",
            }
        ctoks = max(8, len(action) // 4)
        step: dict[str, Any] = {
            "action": action,
            "observation": [] if last else [{"role": "user", "content": f"{msg}\n\nMistakes: {mistakes}/4."}],
            "status": {"valid": status != "invalid", "label": status}
            | ({"reason": "unknown word: DOORBELL"} if status == "invalid" else {}),
            "done": last,
            "usage": {"prompt_tokens": ptoks, "completion_tokens": ctoks},
            "info": info,
        }
        ptoks += ctoks + 30
        steps.append(step)
    system = (
        "You are playing Connections. Find four groups of four words that share something in common. "
        "Reason first, then give one guess per turn as <guess>[`A`, `B`, `C`, `D`]</guess>. "
        "At most 4 mistakes; invalid guesses do not count as mistakes."
    )
    prompt = [
        {"role": "system", "content": system},
        {"role": "user", "content": "Here are the 16 words:\n" + ", ".join(shown) + "\n\nMake your first guess."},
    ]
    if doctored:
        h = history_kept[0]
        prompt += [
            {"role": "assistant", "content": f"Starting with the clearest group.\n\n{_guess_tag(h['items'])}"},
            {"role": "user", "content": h["result_message"]},
        ]
    won = reason == "all_categories_found"
    rec = {
        "schema_version": SCHEMA_VERSION,
        "episode_id": "ep-template",
        "env": {"name": "connections", "version": "1.0.0", "args": {"max_mistakes": 4, "max_turns": 10}},
        "task": {
            "id": "puzzle-000000",
            "split": "train",
            "data": {"categories": [{"group": n, "members": ws} for n, ws in groups], "all_words": all_words},
        },
        "model": {"name": "Qwen/Qwen2.5-7B-Instruct", "backend": "vllm"},
        "sampling": {"n": 8, "temperature": 0.7, "top_p": 0.95, "max_tokens": 1024, "stop": ["</guess>"]},
        "seed": 0,
        "sample_index": 0,
        "prompt": prompt,
        "steps": steps,
        "reward": 0.0,
        "reward_components": {"groups_found": 0.0, "mistake_penalty": -0.125 * mistakes},
        "outcome": {"done": True, "reason": reason, "success": won},
        "usage": {"prompt_tokens": sum(s["usage"]["prompt_tokens"] for s in steps),
                  "completion_tokens": sum(s["usage"]["completion_tokens"] for s in steps)},
        "provenance": _provenance(rng, seed, {"connections": "1.0.0", "vllm": "0.3.1"}),
        "info": {"shuffled_words": shown, "mistakes": mistakes},
    }
    if doctored:
        rec["parent"] = {"episode_id": "ep-template-parent", "steps_kept": 1,
                         "reason": rng.choice(["invalid guess", "game lost"])}
        rec["info"]["resumed_from_guess_history"] = history_kept
    lo, hi = (0.75, 1.0) if won else (0.0, 0.5)
    return rec, "groups_found", lo, hi, -0.125 * mistakes


def _build_data_analysis(rng: random.Random, amount: int, seed: int, target: int, variant: int) -> Built:
    n_turns = rng.randint(1, max(1, min(5, target // 3500)))
    max_hooks = 0 if target < 3000 else 3
    failed = variant % 6 == 4  # the backend failed mid-episode
    code_pool = [rng.choice(_CODE_LINES) for _ in range(amount)]
    out_pool = [rng.choice(_STDOUT_LINES) for _ in range(amount // 2)]
    reason_pool = _sentences(rng, max(1, amount // 3))
    qid = "csv-q-000000"
    question = {  # the seed's question minus its id, which is the task id
        "question_text": "Which city has the highest mean value in 2024, and by how much does it exceed the "
        "median city? " + rng.choice(_SENTENCES),
        "hint": rng.choice(["Group by city and compare.", "Use df.groupby('city')['value'].mean().", None]),
        "difficulty": rng.choice(["easy", "medium", "hard"]),
        "n_steps": n_turns,
        "template_name": "group_extreme_gap",
        "template_params": {"group_col": "city", "value_col": "value", "year": 2024},
        "output_type": "dict",
        "output_schema": {"type": "object", "properties": {"city": {"type": "string"}, "gap": {"type": "number"}}},
        "ground_truth": {"city": "Zürich", "gap": 412.75},
        "ground_truth_hash": f"{rng.getrandbits(64):016x}",
    }
    steps = []
    ptoks = 260
    for k in range(n_turns):
        last = k == n_turns - 1
        code_lines = _share(code_pool, n_turns, k) or ["x = df.shape"]
        if last and not failed:
            code_lines = [*code_lines, "submit({'city': 'Zürich', 'gap': 412.75})"]
        code = "\n".join(code_lines)
        reasoning = " ".join(_share(reason_pool, n_turns, k)) or "Next step."
        stdout = "\n".join(_share(out_pool, n_turns, k))
        stdout = stdout + "\n" if stdout else ""
        stderr = (
            ""
            if max_hooks == 0 or rng.random() < 0.8
            else "FutureWarning: the default of observed=False is deprecated\n"
        )
        hooks = [
            {
                "variable_name": f"v{k}_{j}",
                "code_line": code_lines[j % len(code_lines)],
                "value": rng.choice([412.75, "Zürich", [1, 2, 3], {"東京": 4521.0, "São Paulo": 987.25}, None, True]),
                "value_hash": f"{rng.getrandbits(64):016x}",
                "depends_on": [f"v{k}_{j - 1}"] if j else [],
                "description": rng.choice(["Mean value per city", "Gap to the median", "Rows kept after filtering 🙂"]),
            }
            for j in range(rng.randint(0, max_hooks))
        ]
        submitted = {"city": "Zürich", "gap": 412.75} if last and not failed else None
        action = f"{reasoning}\n\n```python\n{code}\n```"
        obs_parts = []
        if stdout:
            obs_parts.append(f"[stdout]:\n{stdout}")
        if stderr:
            obs_parts.append(f"[stderr]:\n{stderr}")
        ctoks = max(10, len(action) // 4)
        steps.append({
            "action": action,
            "observation": [] if last else ([{"role": "user", "content": "\n".join(obs_parts)}] if obs_parts else []),
            "status": {"valid": True, "label": "submitted" if submitted is not None else "executed"},
            "done": last and not failed,
            "usage": {"prompt_tokens": ptoks, "completion_tokens": ctoks},
            "info": {
                "reasoning": reasoning,
                "code": code,
                "execution": {"success": True, "stdout": stdout, "stderr": stderr, "hooks": hooks,
                              "submitted_answer": submitted},
            },
        })
        ptoks += ctoks + len(stdout) // 4 + 5
    system = (
        "You analyse a pandas DataFrame `df` loaded from data/cities_2024.csv. "
        "Functions: submit(answer) ends the episode; hook(value, name=\"...\") records an intermediate value. "
        "Answer with Python code and always call submit()."
    )
    user = question["question_text"] + (f"\n\nHint: {question['hint']}" if question["hint"] else "")
    rec: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "episode_id": "ep-template",
        "env": {"name": "data-analysis", "version": "0.4.2", "args": {"max_turns": 6, "exec_timeout_s": 30}},
        "task": {"id": qid, "split": "train", "data": {"csv_source": "data/cities_2024.csv", "question": question}},
        "model": {"name": "meta-llama/Llama-3.1-70B-Instruct", "backend": "openai"},
        "sampling": {"temperature": 0.0, "max_tokens": 2048},
        "seed": 0,
        "sample_index": 0,
        "prompt": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "steps": steps,
        "reward": 0.0,
        "reward_components": {"answer_correct": 0.0},
        "outcome": {"done": True, "reason": "error" if failed else "submitted", "success": None if failed else True},
        "verification": []
        if failed
        else [
            {
                "verifier": "triangulation",
                "verdict": "pass",
                "score": 0.8,
                "details": {
                    "n_consistency_runs": 5,
                    "n_consistency_succeeded": 5,
                    "majority_answer_hash": question["ground_truth_hash"],
                    "majority_count": 4,
                    "gold_matches_majority": True,
                },
            },
        ],
        "usage": {
            "prompt_tokens": sum(s["usage"]["prompt_tokens"] for s in steps),
            "completion_tokens": sum(s["usage"]["completion_tokens"] for s in steps),
        },
        "provenance": _provenance(rng, seed, {"harness-data-analysis": "0.4.2", "openai": "1.2.0"}),
        "info": {
            "final_answer_hash": question["ground_truth_hash"],
            "timing": {"gold_s": round(rng.uniform(1, 60), 3)},
        },
    }
    if failed:
        rec["error"] = {
            "type": "APIConnectionError",
            "message": "Connection reset by peer while streaming the completion",
            "traceback": "Traceback (most recent call last):\n"
            '  File "harness/backends/openai.py", line 88, in complete\n'
            "    async for chunk in stream:\nAPIConnectionError: Connection reset by peer\n",
        }
        return rec, "answer_correct", 0.0, 0.0, 0.0
    return rec, "answer_correct", 0.5, 1.0, 0.0


def _build_search(rng: random.Random, amount: int, seed: int, target: int, variant: int) -> Built:
    n_search = rng.randint(1, max(1, min(4, target // 4000)))
    n_docs = rng.randint(1 if target < 3000 else 2, 4 if target > 6000 else 2)
    pool = _sentences(rng, amount)
    doc_slots = n_search * n_docs
    docs_all = [
        {"title": rng.choice(_DOC_TITLES), "content": " ".join(_share(pool, doc_slots, j)) or "No content."}
        for j in range(doc_slots)
    ]
    question = "Which architect designed the building that hosts the 2003 ceremony, and in which city was he born?"
    steps = []
    ptoks = 70
    for k in range(n_search):
        docs = docs_all[k * n_docs : (k + 1) * n_docs]
        reasoning = rng.choice(_SENTENCES)
        query = rng.choice(
            ["Pritzker Prize 2003 laureate", "Jørn Utzon birthplace", "東京タワー 設計者", "café Wien Geschichte"]
        )
        info_text = "<information>\n" + "\n\n".join(
            f"Document {i + 1}:\nTitle: {d['title']}\nContent: {d['content']}" for i, d in enumerate(docs)
        ) + "\n</information>"
        action = f"<think>\n{reasoning}\n</think>\n<search>\n{query}\n</search>"
        steps.append({
            "action": action,
            "observation": [{"role": "user", "content": info_text}],
            "status": {"valid": True, "label": "search"},
            "usage": {"prompt_tokens": ptoks, "completion_tokens": len(action) // 4},
            "info": {"reasoning": reasoning, "search": {"query": query}, "documents": docs},
        })
        ptoks += len(action) // 4 + len(info_text) // 4
    correct = variant % 5 in (0, 2, 4)
    answer = "Jørn Utzon, Copenhagen" if correct else "Glenn Murcutt, London"
    reasoning = "Putting the documents together gives the answer."
    steps.append({
        "action": f"<think>\n{reasoning}\n</think>\n<answer>\n{answer}\n</answer>",
        "status": {"valid": True, "label": "answer"},
        "done": True,
        "usage": {"prompt_tokens": ptoks, "completion_tokens": 20},
        "info": {"reasoning": reasoning, "answer": answer},
    })
    rec = {
        "schema_version": SCHEMA_VERSION,
        "episode_id": "ep-template",
        "env": {"name": "search", "version": "0.2.0", "args": {"retriever": "e5-base-v2", "top_k": n_docs}},
        "task": {
            "id": "search-000000",
            "split": "train",
            "data": {"question": question, "answer": "Jørn Utzon, Copenhagen"},
        },
        "model": {"name": "Qwen/Qwen2.5-3B-Instruct", "backend": "vllm"},
        "sampling": {
            "n": 4,
            "temperature": 1.0,
            "top_p": 1.0,
            "top_k": -1,
            "max_tokens": 512,
            "stop": ["</search>", "</answer>"],
        },
        "seed": 0,
        "sample_index": 0,
        "prompt": [
            {
                "role": "user",
                "content": "Answer the question. Reason in <think></think>, search with "
                "<search>query</search>, answer in <answer></answer>.\n\nQuestion: " + question,
            }
        ],
        "steps": steps,
        "reward": 0.0,
        "reward_components": {"exact_match": 0.0},
        "outcome": {"done": True, "reason": "answered", "success": correct},
        "verification": [
            {
                "verifier": "exact_match",
                "verdict": "pass" if correct else "fail",
                "score": 1.0 if correct else 0.0,
                "details": {"expected": "Jørn Utzon, Copenhagen", "got": answer},
            }
        ],
        "usage": {
            "prompt_tokens": sum(s["usage"]["prompt_tokens"] for s in steps),
            "completion_tokens": sum(s["usage"]["completion_tokens"] for s in steps),
        },
        "provenance": _provenance(rng, seed, {"search": "0.2.0", "vllm": "0.3.1", "exact_match": "0.1.0"}),
        "info": {"data_source": "synthetic_multihop", "ability": "multi-hop"},
    }
    lo, hi = (0.9, 1.0) if correct else (0.0, 0.1)
    return rec, "exact_match", lo, hi, 0.0


def _build_code(rng: random.Random, amount: int, seed: int, target: int, variant: int) -> Built:
    verdict = ("pass", "fail", "pass", "no_verdict")[variant % 4]
    body = [rng.choice(_CODE_LINES).replace("\n", "\n    ") for _ in range(amount)]
    code = 'def solve(s: str) -> str:\n    """Return the first repeated character, or None."""\n    seen = set()\n'
    code += "".join(f"    # {line}\n" for line in body)
    code += "    for ch in s:\n        if ch in seen:\n            return ch\n        seen.add(ch)\n    return None\n"
    completion = f"Here is a solution:\n\n```python\n{code}```"
    cases = [("abcabc", "a"), ("abc", None), ("日本日", "日"), ("🙂x🙂", "🙂")][: 2 if target < 2500 else 4]
    n_tests = len(cases)
    tests = "def test_solution():\n" + "".join(f"    assert solve({s!r}) == {r!r}\n" for s, r in cases)
    details: dict[str, Any]
    if verdict == "pass":
        details = {"tests_passed": n_tests, "tests_total": n_tests, "output_tail": "", "duration_s": 0.31}
        score: float | None = 1.0
    elif verdict == "fail":
        s, r = cases[-1]
        details = {"tests_passed": n_tests - 1, "tests_total": n_tests, "error": "AssertionError",
                   "output_tail": 'Traceback (most recent call last):\n  File "<sandbox>/run.py", line 21\n'
                   f"    assert solve({s!r}) == {r!r}\nAssertionError\n"}
        score = (n_tests - 1) / n_tests
    else:
        details = {"error": "sandbox unavailable: bwrap: setting up uid map: Permission denied"}
        score = None
    rec = {
        "schema_version": SCHEMA_VERSION,
        "episode_id": "ep-template",
        "env": {"name": "code", "version": "0.3.0", "args": {"dataset": "mbpp", "example_test_in_prompt": True}},
        "task": {
            "id": 0,
            "split": "train",
            "data": {
                "prompt": "Write a function to find the first repeated character in a given string.",
                "entry_point": "solve",
                "tests": tests,
                "test_count": n_tests,
            },
        },
        "model": {"name": "deepseek-ai/deepseek-coder-6.7b-instruct", "backend": "vllm"},
        "sampling": {"n": 10, "temperature": 0.7, "max_tokens": 1024},
        "seed": 0,
        "sample_index": 0,
        "prompt": [
            {"role": "system", "content": "You are an expert programmer. Answer with one Python code block."},
            {
                "role": "user",
                "content": "Write a function to find the first repeated character in a given string.\n"
                'Your code should pass this test:\nassert solve("abcabc") == "a"',
            },
        ],
        "steps": [
            {
                "action": completion,
                "status": {"valid": True, "label": "code_block"},
                "done": True,
                "usage": {"prompt_tokens": 64, "completion_tokens": len(completion) // 4},
                "info": {"code": code, "extraction": "python_block"},
            }
        ],
        "reward": 0.0,
        "reward_components": {"tests": 0.0},
        "outcome": {"done": True, "reason": "submitted", "success": {"pass": True, "fail": False}.get(verdict)},
        "verification": [{"verifier": "mbpp", "verdict": verdict, "score": score, "details": details}],
        "usage": {"prompt_tokens": 64, "completion_tokens": len(completion) // 4},
        "provenance": _provenance(rng, seed, {"code": "0.3.0", "vllm": "0.3.1", "mbpp": "0.3.0"}),
        "info": {},
    }
    lo, hi = {"pass": (1.0, 1.0), "fail": (0.0, 0.5), "no_verdict": (0.0, 0.0)}[verdict]
    return rec, "tests", lo, hi, 0.0


_BUILDERS: dict[str, Callable[[random.Random, int, int, int, int], Built]] = {
    "connections": _build_connections,
    "data-analysis": _build_data_analysis,
    "search": _build_search,
    "code": _build_code,
}


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------

_HOLE = re.compile(rb'"@@([A-Z_]+)@@"')


@dataclass(frozen=True)
class _Template:
    literals: tuple[bytes, ...]  # len(holes) + 1 pieces
    holes: tuple[str, ...]
    main: str  # unused at render time, kept for debugging
    lo: float
    hi: float
    rest: float  # sum of the fixed reward components
    size: int  # bytes with typical values filled in


def _build_sized(kind: str, template_seed: int, seed: int, target: int, variant: int) -> tuple[dict[str, Any], Built]:
    """Build an episode of `kind` whose JSON is close to (and at most) `target` bytes."""
    builder = _BUILDERS[kind]

    def build(amount: int) -> Built:
        return builder(random.Random(template_seed), amount, seed, target, variant)

    def size(amount: int) -> int:
        return len(_dumps(build(amount)[0]))

    lo, hi = 0, 1
    while size(hi) < target and hi < 4096:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # largest amount whose size stays <= target
        mid = (lo + hi) // 2
        if size(mid) <= target:
            lo = mid
        else:
            hi = mid
    built = build(lo)
    return built[0], built


def _make_template(kind: str, template_seed: int, seed: int, target: int, variant: int) -> _Template:
    record, (_, main, lo, hi, rest) = _build_sized(kind, template_seed, seed, target, variant)
    # Validate once with typical values; every rendered record differs only in the holes.
    episode = Episode.model_validate(record)
    data = episode.to_dict()
    data["episode_id"] = "@@EPISODE_ID@@"
    data["task"]["id"] = "@@TASK_ID@@"
    data["seed"] = "@@SEED@@"
    data["sample_index"] = "@@SAMPLE_INDEX@@"
    data["reward"] = "@@REWARD@@"
    data["reward_components"][main] = "@@REWARD_MAIN@@"
    data["provenance"]["created_at"] = "@@CREATED_AT@@"
    if "parent" in data:
        data["parent"]["episode_id"] = "@@PARENT_ID@@"
    raw = _dumps(data)
    pieces = _HOLE.split(raw)
    return _Template(
        literals=tuple(pieces[0::2]),
        holes=tuple(p.decode("ascii") for p in pieces[1::2]),
        main=main,
        lo=lo,
        hi=hi,
        rest=rest,
        size=len(_dumps(episode.to_dict())),
    )


def _templates(seed: int) -> dict[str, list[_Template]]:
    rng = random.Random(f"synthetic-templates-{seed}")
    out: dict[str, list[_Template]] = {}
    margin = 160  # room for the values that replace the holes
    for kind in KINDS:
        out[kind] = []
        for j in range(_TEMPLATES_PER_KIND):
            # Targets spread evenly over [1.2 KB, 20 KB - margin], jittered within their slot.
            span = (MAX_RECORD_BYTES - margin - 1300) / _TEMPLATES_PER_KIND
            target = int(1300 + span * (j + rng.random()))
            out[kind].append(_make_template(kind, rng.getrandbits(32), seed, target, j))
    return out


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _task_id_json(t: int) -> bytes:
    kind = t % 4
    if kind == 0:
        return b'"puzzle-%06d"' % t
    if kind == 1:
        return b'"csv-q-%06d"' % t
    if kind == 2:
        return b'"search-%06d"' % t
    return b'"HumanEval/%d"' % t if (t // 4) % 2 == 0 else b"%d" % t


def _float_json(x: float) -> bytes:
    return repr(round(x, 4) + 0.0).encode("ascii")


def write_synthetic_episodes(
    path: str | os.PathLike[str], *, target_bytes: int, unique_tasks: int, seed: int = 0
) -> SyntheticStats:
    """Write valid synthetic episodes as JSONL until the file holds at least `target_bytes`.

    `unique_tasks` distinct `/task/id` values are used (all of them once the file has that many
    records). Records are 1-20 KB and mix the four env kinds. The file is written to a temporary
    file renamed into place. Deterministic for a seed.
    """
    if target_bytes < 0:
        raise ValueError("target_bytes must be >= 0")
    if unique_tasks < 1:
        raise ValueError("unique_tasks must be >= 1")
    templates = _templates(seed)
    by_kind = [templates[k] for k in KINDS]
    rng = random.Random(seed)
    # A permutation of the tasks for the first pass: t_i = (i * step + offset) mod unique_tasks.
    step = rng.randrange(1, unique_tasks + 1) | 1
    while math.gcd(step, unique_tasks) != 1:
        step += 1
    offset = rng.randrange(unique_tasks)
    samples = array("q", [0]) * unique_tasks
    base_time = 1740787200  # 2025-03-01T00:00:00Z
    prefix = b'"ep-%04x' % (seed & 0xFFFF)

    path = os.fspath(path)
    written = 0
    records = 0
    with atomic_write(path, binary=True) as f:
        buf: list[bytes] = []
        buffered = 0
        while written < target_bytes:
            i = records
            t = (i * step + offset) % unique_tasks if i < unique_tasks else rng.randrange(unique_tasks)
            pool = by_kind[t % 4]
            tpl = pool[rng.randrange(len(pool))]
            main = tpl.lo + (tpl.hi - tpl.lo) * rng.random()
            sample_index = samples[t]
            samples[t] = sample_index + 1
            values = {
                "EPISODE_ID": prefix + b'%016x"' % i,
                "TASK_ID": _task_id_json(t),
                "SEED": b"%d" % ((seed * 1_000_003 + i * 7919) % 2_147_483_647),
                "SAMPLE_INDEX": b"%d" % sample_index,
                "REWARD": _float_json(main + tpl.rest),
                "REWARD_MAIN": _float_json(main),
                "CREATED_AT": time.strftime('"%Y-%m-%dT%H:%M:%SZ"', time.gmtime(base_time + 7 * i)).encode(),
                "PARENT_ID": prefix + b'%016x"' % (i - 1 - rng.randrange(min(i, 1000)))
                if i
                else prefix + b'%016x"' % 0,
            }
            lits = tpl.literals
            parts = [lits[0]]
            for name, lit in zip(tpl.holes, lits[1:]):
                parts.append(values[name])
                parts.append(lit)
            parts.append(b"\n")
            line = b"".join(parts)
            buf.append(line)
            buffered += len(line)
            written += len(line)
            records += 1
            if buffered >= 1 << 22:
                f.write(b"".join(buf))
                buf.clear()
                buffered = 0
        f.write(b"".join(buf))
    return SyntheticStats(records=records, bytes=written, unique_tasks=min(records, unique_tasks))
