"""harness.options: one declaration per setting gives the click options, the Luigi parameters,
the docs table and the output's identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import click
import luigi
import pytest
from click.testing import CliRunner

from harness.options import (
    click_options,
    content_settings,
    from_cli,
    from_luigi,
    luigi_parameters,
    markdown_table,
    parse_plugin_args,
    setting,
    settings_digest,
    settings_of,
)


@dataclass(frozen=True)
class Demo:
    env: str = setting(help="Environment plugin.")
    env_args: dict[str, Any] = setting(factory=dict, help="Environment arguments.")
    limit: int | None = setting(None, help="The first N tasks; none: all.")
    temperature: float = setting(0.7, help="Sampling temperature.")
    stop: list[str] = setting(factory=list, help="Stop strings.")
    mode: Literal["fast", "exact"] = setting("exact", help="How to run.")
    resume: bool = setting(True, help="Resume what an earlier run left.")
    concurrency: int = setting(8, content=False, help="Live episodes at a time.")

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be at least 1")


def _command():
    seen: dict[str, Demo] = {}

    @click.command()
    @click_options(Demo)
    def cmd(**values: Any) -> None:
        seen["config"] = from_cli(Demo, values)
        assert values == {}, values  # every setting was consumed

    return cmd, seen


def test_cli_options_parse_into_the_config() -> None:
    cmd, seen = _command()
    result = CliRunner().invoke(cmd, [
        "--env", "code", "--env-arg", "dataset=mbpp", "--env-arg", "max_turns=3",
        "--env-arg", 'path="x.jsonl"', "--limit", "5", "--stop", "</a>", "--stop", "\n\n",
        "--mode", "fast", "--no-resume", "--concurrency", "2",
    ])
    assert result.exit_code == 0, result.output
    assert seen["config"] == Demo(env="code", env_args={"dataset": "mbpp", "max_turns": 3, "path": "x.jsonl"},
                                  limit=5, stop=["</a>", "\n\n"], mode="fast", resume=False, concurrency=2)


def test_cli_defaults_and_required() -> None:
    cmd, seen = _command()
    assert CliRunner().invoke(cmd, ["--env", "c"]).exit_code == 0
    assert seen["config"] == Demo(env="c")
    missing = CliRunner().invoke(cmd, [])
    assert missing.exit_code == 2 and "--env" in missing.output
    bad = CliRunner().invoke(cmd, ["--env", "c", "--mode", "slow"])
    assert bad.exit_code == 2 and "fast" in bad.output


def test_help_text_is_the_declared_one() -> None:
    cmd, _ = _command()
    text = CliRunner().invoke(cmd, ["--help"]).output
    for s in settings_of(Demo):
        assert s.cli_name in text
    assert "Sampling temperature." in text and "--no-resume" in text


def test_plugin_args_pairs() -> None:
    assert parse_plugin_args(["a=1", "b=x", "c=[1, 2]", "d-e=true", "f="]) == {
        "a": 1, "b": "x", "c": [1, 2], "d_e": True, "f": ""}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_plugin_args(["nope"], "--env-arg")


class DemoTask(luigi_parameters(Demo), luigi.Task):  # type: ignore[misc]
    pass


def test_luigi_parameters_round_trip() -> None:
    task = DemoTask(env="code", env_args={"dataset": "mbpp"}, limit=3, stop=["x"], mode="fast",
                    resume=False, concurrency=4)
    config = from_luigi(Demo, task)
    assert config == Demo(env="code", env_args={"dataset": "mbpp"}, limit=3, stop=["x"], mode="fast",
                          resume=False, concurrency=4)
    assert from_luigi(Demo, DemoTask(env="c")) == Demo(env="c")
    # content settings make the task's identity; the others do not
    assert DemoTask(env="c", concurrency=1).task_id == DemoTask(env="c", concurrency=99).task_id
    assert DemoTask(env="c", limit=1).task_id != DemoTask(env="c", limit=2).task_id


def test_luigi_command_line_uses_the_same_names() -> None:
    from luigi.cmdline_parser import CmdlineParser

    with CmdlineParser.global_instance(["DemoTask", "--env", "code", "--limit", "2",
                                        "--env-args", '{"max_turns": 2}', "--resume", "false"]) as cp:
        task = cp.get_task_obj()
    assert from_luigi(Demo, task) == Demo(env="code", limit=2, env_args={"max_turns": 2}, resume=False)


def test_markdown_table_lists_every_setting() -> None:
    table = markdown_table(Demo)
    assert table.count("\n") == len(settings_of(Demo)) + 2
    assert "| `env_args` | `--env-arg KEY=VALUE` | `--env-args` | `{}` |" in table
    assert "| `env` | `--env` | `--env` | `(required)` |" in table
    assert "not part of the output's identity" in table


def test_content_settings_and_digest() -> None:
    a, b = Demo(env="c", concurrency=1), Demo(env="c", concurrency=64)
    assert content_settings(a) == content_settings(b)
    assert "concurrency" not in content_settings(a)
    assert settings_digest(content_settings(a)) == settings_digest(content_settings(b))
    assert settings_digest(content_settings(a)) != settings_digest(content_settings(Demo(env="d")))
    assert settings_digest(content_settings(a), "up1") != settings_digest(content_settings(a), "up2")


def test_undeclared_field_is_refused() -> None:
    @dataclass(frozen=True)
    class Bad:
        x: int = 1

    with pytest.raises(TypeError, match="setting"):
        settings_of(Bad)
