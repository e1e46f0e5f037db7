"""Run configurations as YAML files that the `harness` commands (`--config FILE`) and the Luigi
tasks (`--config-file FILE`) read.

    # configs/validation_run.yaml
    prepare:                  # harness rlvr prepare (PrepareConfig), and its -o as `output`
      output: data/rlvr
    raft:                     # harness raft (RaftConfig)
      problems: data/rlvr/humaneval_validation.jsonl
      cycles: 3
    passk:                    # harness rlvr passk (PassAtKConfig)
      samples_per_task: 10

Each section holds one stage's settings under the names of its command line (`samples_per_task`
for `--samples-per-task`); a key that is not a setting of its section is an error naming the
file, the line and the key. A value given on the command line wins over the file's.

YAML, not TOML: seed 003 wrote its run configurations in YAML, YAML has a null (`limit: null`,
"every task") where TOML has none, and PyYAML is already installed with `datasets`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from harness.options import settings_of

__all__ = ["SECTIONS", "ConfigFileError", "file_overrides", "read_config_file", "section_values"]

SECTIONS = {
    "prepare": "harness.rlvr.prepare:PrepareConfig",
    "raft": "harness.rlvr.raft:RaftConfig",
    "passk": "harness.rlvr.checkpoints:PassAtKConfig",
}
"""Section name -> the config class whose settings it holds."""
EXTRA_KEYS = {"prepare": {"output": "the output directory (the command's -o)"}}


class ConfigFileError(ValueError):
    """A configuration file that cannot be used; the message names the file, line and key."""


def _config_class(section: str) -> type:
    import importlib

    module, name = SECTIONS[section].split(":")
    return getattr(importlib.import_module(module), name)


def read_config_file(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Every section of the file, checked: {section: {setting: value}}."""
    import yaml

    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read the configuration file: {exc.strerror or exc}") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise ConfigFileError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}:1: expected a mapping of sections ({', '.join(SECTIONS)})")
    lines = _key_lines(node)
    out: dict[str, dict[str, Any]] = {}
    for name, values in data.items():
        line = lines.get((name,), 1)
        if name not in SECTIONS:
            raise ConfigFileError(f"{path}:{line}: {name}: not a section (expected {', '.join(SECTIONS)})")
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ConfigFileError(f"{path}:{line}: {name}: expected a mapping of settings")
        known = {s.name for s in settings_of(_config_class(name))} | set(EXTRA_KEYS.get(name, {}))
        for key in values:
            if key not in known:
                raise ConfigFileError(f"{path}:{lines.get((name, key), line)}: {name}.{key}: not a setting of "
                                      f"{name} (its settings: {', '.join(sorted(known))})")
        out[name] = dict(values)
    return out


def _key_lines(node: Any) -> dict[tuple[str, ...], int]:
    """The line of each section and key of a composed document."""
    import yaml

    lines: dict[tuple[str, ...], int] = {}
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key, value in node.value:
        lines[(key.value,)] = key.start_mark.line + 1
        if isinstance(value, yaml.MappingNode):
            for inner, _ in value.value:
                lines[(key.value, inner.value)] = inner.start_mark.line + 1
    return lines


def section_values(path: str | os.PathLike[str] | None, section: str) -> dict[str, Any]:
    """The settings of one section of a configuration file (none: no file, or no such section)."""
    if path is None:
        return {}
    return read_config_file(path).get(section, {})


def file_overrides(cls: type, file_values: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The file's values of `cls`'s settings that `given` does not set: `given` maps a setting
    to whether it was given on the command line."""
    names = {s.name for s in settings_of(cls)}
    return {k: v for k, v in file_values.items() if k in names and not given.get(k, False)}
