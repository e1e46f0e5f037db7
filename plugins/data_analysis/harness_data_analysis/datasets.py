"""Where the DataFrame `df` comes from: scikit-learn's bundled CSV files, or a CSV path.

scikit-learn ships its small datasets as raw files without column names (the first line of
`iris.csv` is `150,4,setosa,versicolor,virginica`: sample count, feature count, class names).
This module reads those raw files from the installed package, so everything works offline, and
gives them the column names scikit-learn's loaders use, plus a readable target column.

A source is named either by a bundled dataset name (`iris`) or by a path. Episodes record the
resolved `csv_source`: `sklearn/datasets/data/iris.csv` for bundled files (a path inside the
installed scikit-learn, so records do not depend on where it is installed), the path as given
otherwise. `load_frame(csv_source)` loads either kind; the interpreter process calls it too.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

BUNDLED_PREFIX = "sklearn/datasets/data/"


@dataclass(frozen=True)
class Bundled:
    """One scikit-learn dataset: its raw files and the names to give their columns."""

    file: str  # the raw file; `csv_source` is BUNDLED_PREFIX + file
    columns: tuple[str, ...]  # names of the feature columns, in file order
    label: str | None = None  # classification sets: the class column, after the features
    label_names: tuple[str, ...] = ()  # the class names replacing its integer codes
    target_file: str | None = None  # regression sets: target values in a file of their own
    target_columns: tuple[str, ...] = ()  # names of the target file's columns


_BREAST_CANCER_MEASURES = (
    "radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
    "concave points", "symmetry", "fractal dimension",
)  # fmt: skip

BUNDLED: dict[str, Bundled] = {
    "iris": Bundled(
        file="iris.csv",
        columns=("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"),
        label="species",
        label_names=("setosa", "versicolor", "virginica"),
    ),
    "wine": Bundled(
        file="wine_data.csv",
        columns=(
            "alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
            "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
            "od280/od315_of_diluted_wines", "proline",
        ),
        label="class",
        label_names=("class_0", "class_1", "class_2"),
    ),
    "breast_cancer": Bundled(
        file="breast_cancer.csv",
        columns=tuple(f"mean {m}" for m in _BREAST_CANCER_MEASURES)
        + tuple(f"{m} error" for m in _BREAST_CANCER_MEASURES)
        + tuple(f"worst {m}" for m in _BREAST_CANCER_MEASURES),
        label="diagnosis",
        label_names=("malignant", "benign"),
    ),
    "diabetes": Bundled(
        file="diabetes_data_raw.csv.gz",
        columns=("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"),
        target_file="diabetes_target.csv.gz",
        target_columns=("progression",),
    ),
    "linnerud": Bundled(
        file="linnerud_exercise.csv",
        columns=("Chins", "Situps", "Jumps"),
        target_file="linnerud_physiological.csv",
        target_columns=("Weight", "Waist", "Pulse"),
    ),
}

DEFAULT_SOURCES = ("iris", "wine", "breast_cancer", "diabetes")


def resolve_source(source: str) -> str:
    """The `csv_source` for a bundled dataset name or a path (a path is returned as given)."""
    if source in BUNDLED:
        return BUNDLED_PREFIX + BUNDLED[source].file
    return source


def source_stem(csv_source: str) -> str:
    """A short name for task ids: the bundled dataset's name, or the file name without suffixes."""
    bundled = _bundled(csv_source)
    if bundled is not None:
        return next(name for name, b in BUNDLED.items() if b is bundled)
    name = Path(csv_source).name
    for suffix in (".gz", ".csv", ".tsv"):
        name = name.removesuffix(suffix)
    return name


def load_frame(csv_source: str) -> pd.DataFrame:
    """The DataFrame of a `csv_source`; a missing path raises FileNotFoundError naming it."""
    bundled = _bundled(csv_source)
    if bundled is not None:
        return _load_bundled(bundled)
    if not os.path.exists(csv_source):
        raise FileNotFoundError(f"{csv_source}: no such CSV file")
    return pd.read_csv(csv_source)


def _bundled(csv_source: str) -> Bundled | None:
    if not csv_source.startswith(BUNDLED_PREFIX):
        return None
    file = csv_source.removeprefix(BUNDLED_PREFIX)
    return next((b for b in BUNDLED.values() if b.file == file), None)


def _data_file(name: str) -> Path:
    # find_spec locates scikit-learn without importing it (importing it pulls in scipy: ~1 GB of
    # address space, which the interpreter's memory limit would have to allow for).
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{BUNDLED_PREFIX}{name}: scikit-learn is not installed")
    return Path(spec.submodule_search_locations[0], "datasets", "data", name)


def _read_raw(name: str) -> str:
    path = _data_file(name)
    if name.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read()
    return path.read_text(encoding="utf-8")


def _rows(text: str) -> list[list[str]]:
    """Rows of a raw file: comma-separated, or whitespace-separated (diabetes, linnerud)."""
    return [
        line.split(",") if "," in line else line.split()
        for line in text.splitlines()
        if line.strip()
    ]


def _numeric_frame(rows: list[list[str]], columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    for column in frame.columns:
        frame[column] = pd.to_numeric(frame[column])
    return frame


def _load_bundled(b: Bundled) -> pd.DataFrame:
    rows = _rows(_read_raw(b.file))
    if b.label is not None:
        # Header line: n_samples, n_features, class names; then features and an integer class.
        header, body = rows[0], rows[1:]
        n_features = int(header[1])
        if n_features != len(b.columns):
            raise ValueError(
                f"{BUNDLED_PREFIX}{b.file}: header says {n_features} features, "
                f"expected {len(b.columns)} (scikit-learn changed its bundled file?)"
            )
        frame = _numeric_frame([r[:n_features] for r in body], b.columns)
        codes = [int(r[n_features]) for r in body]
        frame[b.label] = [b.label_names[c] for c in codes]
        return frame
    assert b.target_file is not None, "a bundled set has either a label or a target file"
    if rows and not _is_number(rows[0][0]):  # linnerud files start with a line of names
        rows = rows[1:]
    frame = _numeric_frame(rows, b.columns)
    target_rows = _rows(_read_raw(b.target_file))
    if target_rows and not _is_number(target_rows[0][0]):
        target_rows = target_rows[1:]
    targets = _numeric_frame(target_rows, b.target_columns)
    for column in b.target_columns:
        frame[column] = targets[column]
    return frame


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
