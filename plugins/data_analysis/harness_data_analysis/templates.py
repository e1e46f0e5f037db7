"""Question templates: question, hint and gold program, instantiated per CSV with seeded params.

Each template picks its parameters (columns, thresholds, a group value) from the DataFrame with a
`random.Random` seeded from (CSV, template, attempt), so a CSV always yields the same questions.
The ground truth is what the template's gold program submits when run over the DataFrame; the
gold program is plain code written against the same `df`, `hook` and `submit` the model gets, so
scripting it as the model's action reproduces the ground truth (the tests do exactly that).

`make_questions(frame, csv_source, per_template)` returns seed 000 question objects:
`{id, question_text, hint, difficulty, n_steps, template_name, template_params, output_type,
output_schema, ground_truth, ground_truth_hash}`, each paired with its gold program.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.environment import derive_seed
from harness_data_analysis.datasets import source_stem
from harness_data_analysis.values import JsonValue, normalise, value_hash

MAX_GROUPS = 12  # a column with more distinct labels than this is not a grouping column
MAX_INTEGER_CODES = 6  # an integer column with at most this many values is treated as a label
_UNQUOTABLE = set('"\\`\n\r')


@dataclass(frozen=True)
class Profile:
    """What a template may ask about in one DataFrame."""

    frame: pd.DataFrame
    numeric: list[str]  # measurement columns: numbers with at least 7 distinct values
    groups: list[str]  # label columns: 2..MAX_GROUPS distinct values

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Profile:
        numeric, groups = [], []
        for column in frame.columns:
            if not isinstance(column, str) or set(column) & _UNQUOTABLE:
                continue  # names are pasted into question text and into the gold program's strings
            series = frame[column]
            distinct = series.nunique(dropna=True)
            types = pd.api.types
            is_number = types.is_numeric_dtype(series) and not types.is_bool_dtype(series)
            if is_number and types.is_integer_dtype(series) and distinct <= MAX_INTEGER_CODES:
                groups.append(column)
            elif is_number and distinct >= 7:
                numeric.append(column)
            elif not is_number and 2 <= distinct <= MAX_GROUPS:
                groups.append(column)
        return cls(frame, numeric, groups)

    def threshold(self, column: str, rng: random.Random) -> float:
        """A cut point inside the column's range: one of its quartiles, rounded to 2 decimals."""
        return round(float(self.frame[column].quantile(rng.choice((0.25, 0.5, 0.75)))), 2)

    def group_values(self, column: str) -> list[Any]:
        return sorted(normalise(v) for v in self.frame[column].dropna().unique())


Params = dict[str, Any]


@dataclass(frozen=True)
class Template:
    name: str
    difficulty: str  # easy | medium | hard
    n_steps: int  # the operations a direct solution takes
    question: str  # str.format over the params
    hint: str
    program: str  # the gold program, str.format over the params (reprs via {x!r})
    params: Callable[[Profile, random.Random], Params | None]  # None: not applicable here


def _one_numeric(p: Profile, rng: random.Random, **extra: Any) -> Params | None:
    return {"col": rng.choice(p.numeric), **extra} if p.numeric else None


def _two_numeric(p: Profile, rng: random.Random) -> Params | None:
    if len(p.numeric) < 2:
        return None
    a, b = rng.sample(p.numeric, 2)
    return {"col_a": a, "col_b": b, "decimals": 4}


def _group_and_numeric(p: Profile, rng: random.Random, **extra: Any) -> Params | None:
    if not p.groups or not p.numeric:
        return None
    return {"group_col": rng.choice(p.groups), "col": rng.choice(p.numeric), **extra}


def _threshold(p: Profile, rng: random.Random) -> Params | None:
    if not p.numeric:
        return None
    col = rng.choice(p.numeric)
    return {"col": col, "threshold": p.threshold(col, rng)}


def _filtered_mean(p: Profile, rng: random.Random) -> Params | None:
    if len(p.numeric) < 2:
        return None
    filter_col, col = rng.sample(p.numeric, 2)
    return {
        "filter_col": filter_col,
        "threshold": p.threshold(filter_col, rng),
        "col": col,
        "decimals": 3,
    }


def _lookup(p: Profile, rng: random.Random) -> Params | None:
    if not p.numeric or len(p.numeric) + len(p.groups) < 2:
        return None
    col = rng.choice(p.numeric)
    target = rng.choice([c for c in p.numeric + p.groups if c != col])
    return {"col": col, "target_col": target}


def _group_value(p: Profile, rng: random.Random) -> Params | None:
    params = _group_and_numeric(p, rng)
    if params is None:
        return None
    return {**params, "group_value": rng.choice(p.group_values(params["group_col"]))}


def _group_count(p: Profile, rng: random.Random) -> Params | None:
    return {"group_col": rng.choice(p.groups)} if p.groups else None


TEMPLATES: tuple[Template, ...] = (
    Template(
        name="column_mean",
        difficulty="easy",
        n_steps=1,
        question="What is the mean of `{col}`? Round to {decimals} decimals.",
        hint="Take df[{col!r}].mean() and round it.",
        program=(
            "mean_value = df[{col!r}].mean()\n"
            'hook(mean_value, name="mean_value", description="mean of {col}")\n'
            "submit(round(float(mean_value), {decimals}))"
        ),
        params=lambda p, rng: _one_numeric(p, rng, decimals=2),
    ),
    Template(
        name="column_quantile",
        difficulty="easy",
        n_steps=1,
        question=(
            "What is the {q} quantile of `{col}` (pandas' default linear interpolation)? "
            "Round to {decimals} decimals."
        ),
        hint="Series.quantile({q}) computes it.",
        program=(
            "q = df[{col!r}].quantile({q!r})\n"
            'hook(q, name="q", description="{q} quantile of {col}")\n'
            "submit(round(float(q), {decimals}))"
        ),
        params=lambda p, rng: _one_numeric(
            p, rng, q=rng.choice((0.1, 0.25, 0.75, 0.9)), decimals=3
        ),
    ),
    Template(
        name="value_range",
        difficulty="easy",
        n_steps=2,
        question=(
            "What is the range (maximum minus minimum) of `{col}`? Round to {decimals} decimals."
        ),
        hint="Subtract the column's min() from its max().",
        program=(
            "spread = df[{col!r}].max() - df[{col!r}].min()\n"
            'hook(spread, name="spread", description="max minus min of {col}")\n'
            "submit(round(float(spread), {decimals}))"
        ),
        params=lambda p, rng: _one_numeric(p, rng, decimals=4),
    ),
    Template(
        name="count_above",
        difficulty="easy",
        n_steps=1,
        question="How many rows have `{col}` greater than {threshold!r}?",
        hint="Count the rows of a boolean mask: (df[{col!r}] > {threshold!r}).sum().",
        program=(
            "mask = df[{col!r}] > {threshold!r}\n"
            "count = int(mask.sum())\n"
            'hook(count, name="count", description="rows with {col} > {threshold!r}")\n'
            "submit(count)"
        ),
        params=_threshold,
    ),
    Template(
        name="filtered_mean",
        difficulty="medium",
        n_steps=2,
        question=(
            "Among the rows where `{filter_col}` is greater than {threshold!r}, what is the mean "
            "of `{col}`? Round to {decimals} decimals."
        ),
        hint="Filter the rows with a boolean mask first, then take the mean of the other column.",
        program=(
            "subset = df[df[{filter_col!r}] > {threshold!r}]\n"
            'hook(len(subset), name="n_rows", description="rows passing the filter")\n'
            "mean_value = subset[{col!r}].mean()\n"
            'hook(mean_value, name="mean_value", description="mean of {col} in the subset")\n'
            "submit(round(float(mean_value), {decimals}))"
        ),
        params=_filtered_mean,
    ),
    Template(
        name="group_mean",
        difficulty="medium",
        n_steps=2,
        question=(
            "What is the mean of `{col}` for each value of `{group_col}`? Answer with a dict "
            "mapping each value to its mean, rounded to {decimals} decimals."
        ),
        hint="df.groupby({group_col!r})[{col!r}].mean() gives one mean per group.",
        program=(
            "means = df.groupby({group_col!r})[{col!r}].mean().round({decimals})\n"
            'hook(means, name="means", description="mean of {col} per {group_col}")\n'
            "submit(means)"
        ),
        params=lambda p, rng: _group_and_numeric(p, rng, decimals=3),
    ),
    Template(
        name="group_argmax",
        difficulty="medium",
        n_steps=2,
        question="Which value of `{group_col}` has the highest mean `{col}`?",
        hint="Group by {group_col!r}, take the mean of {col!r}, then idxmax().",
        program=(
            "means = df.groupby({group_col!r})[{col!r}].mean()\n"
            'hook(means, name="means", description="mean of {col} per {group_col}")\n'
            "best = means.idxmax()\n"
            'hook(best, name="best", description="group with the highest mean")\n'
            "submit(best)"
        ),
        params=_group_and_numeric,
    ),
    Template(
        name="group_count",
        difficulty="easy",
        n_steps=1,
        question=(
            "How many rows are there for each value of `{group_col}`? Answer with a dict "
            "mapping each value to its count."
        ),
        hint="value_counts() counts the rows per value.",
        program=(
            "counts = df[{group_col!r}].value_counts().sort_index()\n"
            'hook(counts, name="counts", description="rows per {group_col}")\n'
            "submit(counts)"
        ),
        params=_group_count,
    ),
    Template(
        name="argmax_lookup",
        difficulty="easy",
        n_steps=2,
        question=(
            "In the row with the largest `{col}`, what is the value of `{target_col}`? "
            "If several rows share the largest value, take the first of them."
        ),
        hint="idxmax() gives the index label of the first largest value; .loc looks the row up.",
        program=(
            "row = df[{col!r}].idxmax()\n"
            'hook(row, name="row", description="index of the largest {col}")\n'
            "submit(df.loc[row, {target_col!r}])"
        ),
        params=_lookup,
    ),
    Template(
        name="correlation",
        difficulty="medium",
        n_steps=1,
        question=(
            "What is the Pearson correlation between `{col_a}` and `{col_b}`? "
            "Round to {decimals} decimals."
        ),
        hint="Series.corr() computes the Pearson correlation by default.",
        program=(
            "r = df[{col_a!r}].corr(df[{col_b!r}])\n"
            'hook(r, name="r", description="Pearson correlation")\n'
            "submit(round(float(r), {decimals}))"
        ),
        params=_two_numeric,
    ),
    Template(
        name="strongest_correlation",
        difficulty="hard",
        n_steps=3,
        question=(
            "Which other numeric column has the strongest Pearson correlation (largest absolute "
            "value) with `{col}`? Consider every numeric column of the table."
        ),
        hint="Correlate the numeric columns, take {col!r}'s column, drop {col!r}, use abs().",
        program=(
            'corr = df.select_dtypes("number").corr()[{col!r}].drop({col!r}).abs()\n'
            'hook(corr.round(4), name="abs_corr", description="|r| of each column with {col}")\n'
            "best = corr.idxmax()\n"
            "submit(best)"
        ),
        params=lambda p, rng: _one_numeric(p, rng) if len(p.numeric) >= 3 else None,
    ),
    Template(
        name="group_filter_count",
        difficulty="medium",
        n_steps=3,
        question=(
            "How many rows with `{group_col}` equal to {group_value!r} have `{col}` above the "
            "median of `{col}` over the whole table?"
        ),
        hint="Compute the overall median first, then combine two boolean masks with &.",
        program=(
            "median = df[{col!r}].median()\n"
            'hook(median, name="median", description="median of {col} over all rows")\n'
            "mask = (df[{group_col!r}] == {group_value!r}) & (df[{col!r}] > median)\n"
            "count = int(mask.sum())\n"
            'hook(count, name="count")\n'
            "submit(count)"
        ),
        params=_group_value,
    ),
    Template(
        name="top_values",
        difficulty="medium",
        n_steps=2,
        question="List the {k} largest values of `{col}`, largest first, as a list of numbers.",
        hint="nlargest({k}) then tolist().",
        program=(
            "top = df[{col!r}].nlargest({k}).tolist()\n"
            'hook(top, name="top", description="{k} largest values of {col}")\n'
            "submit(top)"
        ),
        params=lambda p, rng: _one_numeric(p, rng, k=rng.choice((3, 5))),
    ),
    Template(
        name="outlier_count",
        difficulty="hard",
        n_steps=3,
        question=(
            "How many rows have `{col}` more than {z} standard deviations away from the mean of "
            "`{col}`? Use the sample standard deviation (pandas' default, ddof=1)."
        ),
        hint="Compute (x - mean) / std, take abs(), count the values above {z}.",
        program=(
            "x = df[{col!r}]\n"
            "z = (x - x.mean()) / x.std()\n"
            "count = int((z.abs() > {z}).sum())\n"
            'hook(count, name="count", description="rows over {z} standard deviations")\n'
            "submit(count)"
        ),
        params=lambda p, rng: _one_numeric(p, rng, z=rng.choice((2, 2.5, 3))),
    ),
    Template(
        name="group_mean_spread",
        difficulty="hard",
        n_steps=3,
        question=(
            "Across the values of `{group_col}`, what is the difference between the largest and "
            "the smallest group mean of `{col}`? Round to {decimals} decimals."
        ),
        hint="Group means first, then max() minus min() of those means.",
        program=(
            "means = df.groupby({group_col!r})[{col!r}].mean()\n"
            'hook(means, name="means", description="mean of {col} per {group_col}")\n'
            "spread = means.max() - means.min()\n"
            'hook(spread, name="spread", description="largest minus smallest group mean")\n'
            "submit(round(float(spread), {decimals}))"
        ),
        params=lambda p, rng: _group_and_numeric(p, rng, decimals=3),
    ),
)

TEMPLATE_NAMES = tuple(t.name for t in TEMPLATES)


class _Stop(Exception):
    pass


def run_gold_program(program: str, frame: pd.DataFrame) -> tuple[bool, JsonValue]:
    """(submitted, normalised answer) of a gold program run in this process.

    Gold programs are our own code, so running them here, on a copy of the frame, is safe; the
    model's code only ever runs in the interpreter process.
    """
    answer: dict[str, JsonValue] = {}

    def submit(value: Any) -> None:
        answer["value"] = normalise(value)
        raise _Stop

    namespace = {
        "df": frame.copy(),
        "pd": pd,
        "np": np,
        "submit": submit,
        "hook": lambda value, name=None, **_: value,
    }
    with contextlib.suppress(_Stop):
        exec(compile(program, "<gold program>", "exec"), namespace)
    return "value" in answer, answer.get("value")


def output_schema(value: JsonValue) -> tuple[str, dict[str, Any]]:
    """(output_type, JSON schema) of a ground truth."""
    if isinstance(value, bool):
        return "bool", {"type": "boolean"}
    if isinstance(value, int):
        return "int", {"type": "integer"}
    if isinstance(value, float):
        return "float", {"type": "number"}
    if isinstance(value, str):
        return "str", {"type": "string"}
    if isinstance(value, list):
        items = output_schema(value[0])[1] if value else {}
        return "list", {"type": "array", "items": items}
    if isinstance(value, dict):
        first = next(iter(value.values()), None)
        values = output_schema(first)[1] if value else {}
        return "dict", {"type": "object", "additionalProperties": values}
    return "null", {"type": "null"}


def _complete(value: JsonValue) -> bool:
    """No null anywhere: a NaN ground truth (an empty filter, say) makes no question."""
    if value is None:
        return False
    if isinstance(value, list):
        return all(_complete(v) for v in value)
    if isinstance(value, dict):
        return all(_complete(v) for v in value.values())
    return True


@dataclass(frozen=True)
class Question:
    """A seed 000 question object and the gold program that answers it."""

    data: dict[str, Any]
    gold_program: str


def make_questions(
    frame: pd.DataFrame,
    csv_source: str,
    per_template: int,
    templates: tuple[Template, ...] = TEMPLATES,
) -> list[Question]:
    """Up to `per_template` distinct questions per template, in template order, deterministic."""
    profile = Profile.of(frame)
    stem = source_stem(csv_source)
    out: list[Question] = []
    for template in templates:
        seen: set[str] = set()
        for attempt in range(per_template * 4):  # distinct params are not always available
            if len(seen) == per_template:
                break
            rng = random.Random(derive_seed("data-analysis", csv_source, template.name, attempt))
            params = template.params(profile, rng)
            if params is None:
                break
            params = normalise(params)
            key = value_hash(params)
            if key in seen:
                continue
            program = template.program.format(**params)
            submitted, truth = run_gold_program(program, frame)
            if not submitted or not _complete(truth):
                continue
            seen.add(key)
            output_type, schema = output_schema(truth)
            out.append(
                Question(
                    data={
                        "id": f"{stem}-{template.name}-{len(seen) - 1:02d}",
                        "question_text": template.question.format(**params),
                        "hint": template.hint.format(**params),
                        "difficulty": template.difficulty,
                        "n_steps": template.n_steps,
                        "template_name": template.name,
                        "template_params": params,
                        "output_type": output_type,
                        "output_schema": schema,
                        "ground_truth": truth,
                        "ground_truth_hash": value_hash(truth),
                    },
                    gold_program=program,
                )
            )
    return out
