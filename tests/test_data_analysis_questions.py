"""The CSVs (scikit-learn's bundled files, user paths) and the question templates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets as sk

from harness_data_analysis.datasets import BUNDLED, load_frame, resolve_source, source_stem
from harness_data_analysis.templates import (
    TEMPLATE_NAMES,
    TEMPLATES,
    Profile,
    make_questions,
    run_gold_program,
)
from harness_data_analysis.values import value_hash

QUESTION_KEYS = {
    "id", "question_text", "hint", "difficulty", "n_steps", "template_name", "template_params",
    "output_type", "output_schema", "ground_truth", "ground_truth_hash",
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "loader"),
    [
        ("iris", lambda: sk.load_iris(as_frame=True)),
        ("wine", lambda: sk.load_wine(as_frame=True)),
        ("breast_cancer", lambda: sk.load_breast_cancer(as_frame=True)),
        ("diabetes", lambda: sk.load_diabetes(as_frame=True, scaled=False)),
    ],
)
def test_bundled_frames_agree_with_scikit_learn_loaders(name, loader):
    ours = load_frame(resolve_source(name))
    bunch = loader()
    features = list(bunch.feature_names)
    assert list(ours.columns[: len(features)]) == features
    np.testing.assert_allclose(ours[features].to_numpy(float), bunch.data.to_numpy(float))
    target = ours.columns[len(features)]
    if getattr(bunch, "target_names", None) is not None and name != "diabetes":
        expected = [bunch.target_names[i] for i in bunch.target]
        assert list(ours[target]) == expected
    else:
        np.testing.assert_allclose(ours[target].to_numpy(float), bunch.target.to_numpy(float))


def test_linnerud_joins_exercise_and_physiological_files():
    frame = load_frame(resolve_source("linnerud"))
    bunch = sk.load_linnerud(as_frame=True)
    assert list(frame.columns) == list(bunch.feature_names) + list(bunch.target_names)
    assert frame.shape == (20, 6)


def test_sources_resolve_to_package_paths_and_user_paths_stay_as_given(tmp_path):
    assert resolve_source("iris") == "sklearn/datasets/data/iris.csv"
    assert source_stem("sklearn/datasets/data/diabetes_data_raw.csv.gz") == "diabetes"
    path = str(tmp_path / "sales.csv")
    assert resolve_source(path) == path
    assert source_stem(path) == "sales"
    with pytest.raises(FileNotFoundError, match=r"sales.csv"):
        load_frame(path)


def test_every_template_applies_to_iris_and_has_the_seed_question_shape():
    source = resolve_source("iris")
    frame = load_frame(source)
    frame_columns = set(frame.columns)
    questions = make_questions(frame, source, per_template=2)
    assert {q.data["template_name"] for q in questions} == set(TEMPLATE_NAMES)
    assert len(TEMPLATES) >= 10
    for q in questions:
        assert set(q.data) == QUESTION_KEYS
        assert q.data["id"].startswith("iris-" + q.data["template_name"] + "-")
        assert q.data["difficulty"] in {"easy", "medium", "hard"}
        assert q.data["ground_truth_hash"] == value_hash(q.data["ground_truth"])
        columns = [v for v in q.data["template_params"].values() if v in frame_columns]
        assert columns and all(f"`{c}`" in q.data["question_text"] for c in columns)


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_gold_programs_reproduce_their_ground_truth(name):
    source = resolve_source(name)
    frame = load_frame(source)
    questions = make_questions(frame, source, per_template=3)
    assert len(questions) >= 15
    ids = [q.data["id"] for q in questions]
    assert len(ids) == len(set(ids))
    for q in questions:
        submitted, answer = run_gold_program(q.gold_program, frame)
        assert submitted
        assert value_hash(answer) == q.data["ground_truth_hash"], q.data["id"]


def test_questions_are_deterministic_and_depend_on_the_csv():
    iris, wine = resolve_source("iris"), resolve_source("wine")
    first = make_questions(load_frame(iris), iris, per_template=2)
    again = make_questions(load_frame(iris), iris, per_template=2)
    assert [q.data for q in first] == [q.data for q in again]
    other = make_questions(load_frame(wine), wine, per_template=2)
    texts = {q.data["question_text"] for q in first}
    assert texts.isdisjoint(q.data["question_text"] for q in other)


def test_a_user_csv_gets_the_templates_its_columns_allow(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "shop.csv"
    pd.DataFrame(
        {
            "store": rng.choice(["north", "south", "east"], size=60),
            "revenue": rng.normal(1000, 200, size=60).round(2),
            "visitors": rng.integers(10, 500, size=60),
            'bad"name': rng.normal(size=60),  # cannot be quoted safely: never asked about
        }
    ).to_csv(path, index=False)
    frame = load_frame(str(path))
    profile = Profile.of(frame)
    assert profile.groups == ["store"]
    assert profile.numeric == ["revenue", "visitors"]
    questions = make_questions(frame, str(path), per_template=1)
    names = {q.data["template_name"] for q in questions}
    assert "group_mean" in names and "correlation" in names
    assert "strongest_correlation" not in names  # needs three numeric columns
    assert all(q.data["id"].startswith("shop-") for q in questions)
    assert all('bad"name' not in q.data["question_text"] for q in questions)


def test_a_csv_without_label_columns_skips_the_group_templates():
    source = resolve_source("linnerud")
    questions = make_questions(load_frame(source), source, per_template=1)
    names = {q.data["template_name"] for q in questions}
    assert names and not any(n.startswith("group") for n in names)
