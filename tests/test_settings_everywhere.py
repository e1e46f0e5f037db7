"""One setting, one name, one default, one help text: in the harness command, in Luigi and in
the docs (all generated from the stage's config by harness.options; this checks they stay so)."""

from __future__ import annotations

import glob
import importlib
from pathlib import Path

import luigi
import pytest

from harness.options import settings_of, sync_docs

ROOT = Path(__file__).resolve().parents[1]

# (config class, click command, Luigi tasks that take every setting)
STAGES = [
    ("harness.engine.config:RolloutConfig", "harness.cli.rollouts:generate",
     ["luigi_tasks.rollouts:GenerateRollouts", "luigi_tasks.rollouts:VerifyRollouts"]),
    ("harness.verify:VerifyConfig", "harness.cli.verify:verify", ["luigi_tasks.rollouts:VerifyRollouts"]),
    ("harness.rlvr.prepare:PrepareConfig", "harness.cli.rlvr:prepare", ["luigi_tasks.rlvr:PrepareRLVR"]),
    ("harness.rlvr.raft:RaftConfig", "harness.cli.raft:raft",
     ["luigi_tasks.rlvr:RaftCycles", "luigi_tasks.rlvr:RaftSamples", "luigi_tasks.rlvr:RaftVerify",
      "luigi_tasks.rlvr:RaftKeep", "luigi_tasks.rlvr:RaftTrain"]),
    ("harness.rlvr.checkpoints:PassAtKConfig", "harness.cli.rlvr:passk",
     ["luigi_tasks.rlvr:PassAtK", "luigi_tasks.rlvr:PassAtKAcrossCheckpoints"]),
]


def _load(target: str):
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("config, command, tasks", STAGES, ids=[s[0].split(":")[1] for s in STAGES])
def test_cli_and_luigi_take_every_setting_alike(config, command, tasks):
    cls, cmd = _load(config), _load(command)
    params = {p.name: p for p in cmd.params}
    for s in settings_of(cls):
        option = params[s.name]
        assert s.cli_name in option.opts, (s.name, option.opts)
        assert option.help.startswith(s.help), (s.name, option.help)
        if s.kind in ("list", "dict"):
            assert not option.default and not s.default, s.name  # repeatable options start empty
        elif not s.required:
            assert option.default == s.default, (s.name, option.default, s.default)
        for task in map(_load, tasks):
            param = task.get_params()
            found = dict(param)[s.name]
            assert found.description.startswith(s.help), (task.__name__, s.name)  # Luigi appends the choices
            assert found.significant == s.content, (task.__name__, s.name)
            if not s.required:
                value = found._default
                if s.kind in ("list", "dict") and value is not None:
                    value = luigi.freezing.recursively_unfreeze(value)
                assert value == s.default, (task.__name__, s.name, value, s.default)


def test_the_docs_tables_match_the_code():
    docs = sorted(glob.glob(str(ROOT / "docs" / "*.md")))
    assert sync_docs(docs) == [], "run: python -m harness.options docs/*.md"
    text = "\n".join(Path(p).read_text() for p in docs)
    for config, _, _ in STAGES:
        module, name = config.split(":")
        assert f"<!-- settings: {module}.{name} -->" in text, f"{name} has no settings table in docs/"
