"""The plugin registry over real installed distributions (dist-info metadata written to disk, the
way pip leaves them), discovered through `importlib.metadata` entry points."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness import plugins
from harness.plugins import PluginError


def install_fake_distribution(site: Path, dist: str, version: str, module: str, source: str,
                              entry_point: str | None = None) -> None:
    """Write `module.py` and a `.dist-info` with an entry point in the `harness` group."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[harness]\n{entry_point or module} = {module}\n")


GOOD = """
    from harness.plugins import hookimpl

    class Thing:
        name = "{name}"

    @hookimpl
    def register_{kind}s(register):
        register(Thing)

    SEEN = []

    @hookimpl
    def episode_finished(episode):
        SEEN.append(episode["episode_id"])
"""


def load_from(site: Path, monkeypatch: pytest.MonkeyPatch) -> plugins.Registry:
    monkeypatch.syspath_prepend(str(site))
    eps = [
        ep
        for dist in importlib.metadata.distributions(path=[str(site)])
        for ep in dist.entry_points
        if ep.group == "harness"
    ]
    return plugins.load(eps)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(plugins.ALLOW_VAR, raising=False)
    monkeypatch.delenv(plugins.BLOCK_VAR, raising=False)
    # Module names are unique per test so one test's imports never leak into another's.
    d = tmp_path / "site"
    d.mkdir()
    return d


def uniq(tmp_path: Path, stem: str) -> str:
    return f"{stem}_{abs(hash(str(tmp_path))) % 10**8}"


def test_registrations_and_lifecycle_hooks_of_several_plugins(site, tmp_path, monkeypatch):
    a, b = uniq(tmp_path, "plug_a"), uniq(tmp_path, "plug_b")
    install_fake_distribution(site, "dist-a", "1.2.0", a, GOOD.format(name="alpha", kind="environment"))
    install_fake_distribution(site, "dist-b", "0.3.1", b, GOOD.format(name="beta", kind="formatter"))
    registry = load_from(site, monkeypatch)

    assert not registry.failures
    assert registry.names("environment") == ["alpha"]
    assert registry.names("formatter") == ["beta"]
    assert registry.get("environment", "alpha").name == "alpha"
    assert registry.versions() == {"dist-a": "1.2.0", "dist-b": "0.3.1"}

    registry.hook.episode_finished(episode={"episode_id": "e1"})
    assert sys.modules[a].SEEN == ["e1"] and sys.modules[b].SEEN == ["e1"]


def test_import_error_is_reported_by_distribution_and_others_load(site, tmp_path, monkeypatch):
    good, bad = uniq(tmp_path, "good"), uniq(tmp_path, "broken")
    install_fake_distribution(site, "dist-good", "1.0", good, GOOD.format(name="ok", kind="verifier"))
    install_fake_distribution(site, "dist-broken", "2.0", bad, "import does_not_exist_anywhere\n")
    registry = load_from(site, monkeypatch)

    assert registry.names("verifier") == ["ok"]
    [failure] = registry.failures
    assert failure.distribution == "dist-broken" and failure.version == "2.0"
    assert "does_not_exist_anywhere" in failure.error
    with pytest.raises(PluginError, match="dist-broken"):
        registry.get("verifier", "missing")


def test_wrong_hook_signature_and_unknown_hook_fail_only_that_plugin(site, tmp_path, monkeypatch):
    sig, typo, good = uniq(tmp_path, "sig"), uniq(tmp_path, "typo"), uniq(tmp_path, "fine")
    install_fake_distribution(site, "dist-sig", "1.0", sig, """
        from harness.plugins import hookimpl
        @hookimpl
        def register_environments(register, extra):
            pass
    """)
    install_fake_distribution(site, "dist-typo", "1.0", typo, """
        from harness.plugins import hookimpl
        @hookimpl
        def register_environment(register):
            pass
    """)
    install_fake_distribution(site, "dist-fine", "1.0", good, GOOD.format(name="fine", kind="backend"))
    registry = load_from(site, monkeypatch)

    errors = {f.distribution: f.error for f in registry.failures}
    assert set(errors) == {"dist-sig", "dist-typo"}
    assert "extra" in errors["dist-sig"]
    assert "register_environment" in errors["dist-typo"]
    assert registry.names("backend") == ["fine"]
    # A failed plugin's hooks are gone: lifecycle calls reach only the plugins that loaded.
    assert [p.distribution for p in registry.plugins] == ["dist-fine"]


def test_registrar_that_raises_fails_its_plugin_only(site, tmp_path, monkeypatch):
    boom, good = uniq(tmp_path, "boom"), uniq(tmp_path, "calm")
    install_fake_distribution(site, "dist-boom", "1.0", boom, """
        from harness.plugins import hookimpl
        @hookimpl
        def register_formatters(register):
            raise RuntimeError("formatter table is corrupt")
    """)
    install_fake_distribution(site, "dist-calm", "1.0", good, GOOD.format(name="calm", kind="formatter"))
    registry = load_from(site, monkeypatch)
    [failure] = registry.failures
    assert failure.distribution == "dist-boom" and "formatter table is corrupt" in failure.error
    assert registry.names("formatter") == ["calm"]


def test_duplicate_name_is_an_error_naming_both_distributions(site, tmp_path, monkeypatch):
    one, two, other = uniq(tmp_path, "one"), uniq(tmp_path, "two"), uniq(tmp_path, "other")
    install_fake_distribution(site, "dist-one", "1.0", one, GOOD.format(name="same", kind="environment"))
    install_fake_distribution(site, "dist-two", "2.0", two, GOOD.format(name="same", kind="environment"))
    install_fake_distribution(site, "dist-other", "1.0", other, GOOD.format(name="other", kind="environment"))
    registry = load_from(site, monkeypatch)

    with pytest.raises(PluginError, match=r"dist-one 1\.0 and dist-two 2\.0"):
        registry.get("environment", "same")
    assert registry.get("environment", "other").name == "other"
    assert registry.names("environment") == ["other"]

    # Blocking one of the two settles the conflict.
    monkeypatch.setenv(plugins.BLOCK_VAR, "dist-two")
    registry = load_from(site, monkeypatch)
    assert registry.get("environment", "same").name == "same"
    assert [p.distribution for p in registry.skipped] == ["dist-two"]


def test_allow_list_and_block_list(site, tmp_path, monkeypatch):
    a, b = uniq(tmp_path, "allow_a"), uniq(tmp_path, "allow_b")
    install_fake_distribution(site, "dist-a", "1.0", a, GOOD.format(name="a", kind="environment"))
    install_fake_distribution(site, "dist-b", "1.0", b, GOOD.format(name="b", kind="environment"),
                              entry_point="bee")
    monkeypatch.setenv(plugins.ALLOW_VAR, "bee")  # an entry-point name works as well as a distribution
    assert load_from(site, monkeypatch).names("environment") == ["b"]
    monkeypatch.setenv(plugins.ALLOW_VAR, "dist-a, dist-b")
    monkeypatch.setenv(plugins.BLOCK_VAR, "dist-a")
    assert load_from(site, monkeypatch).names("environment") == ["b"]


def test_registering_without_a_name_fails_the_plugin(site, tmp_path, monkeypatch):
    nameless = uniq(tmp_path, "nameless")
    install_fake_distribution(site, "dist-nameless", "1.0", nameless, """
        from harness.plugins import hookimpl
        @hookimpl
        def register_backends(register):
            register(object())
    """)
    [failure] = load_from(site, monkeypatch).failures
    assert "without a name" in failure.error and "dist-nameless" in failure.error


def test_harness_plugins_command_reports_failures_and_conflicts(site, tmp_path):
    """The real CLI in a real interpreter, discovering the fake distributions through sys.path."""
    names = [uniq(tmp_path, s) for s in ("cli_ok", "cli_dup1", "cli_dup2", "cli_bad")]
    install_fake_distribution(site, "dist-ok", "3.1.4", names[0], GOOD.format(name="ok-env", kind="environment"))
    install_fake_distribution(site, "dist-dup1", "1.0", names[1], GOOD.format(name="dup", kind="verifier"))
    install_fake_distribution(site, "dist-dup2", "1.0", names[2], GOOD.format(name="dup", kind="verifier"))
    install_fake_distribution(site, "dist-bad", "0.1", names[3], "raise ImportError('no wheels for you')\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop(plugins.ALLOW_VAR, None)
    env.pop(plugins.BLOCK_VAR, None)
    run = subprocess.run([sys.executable, "-m", "harness", "plugins", "--json"],
                         capture_output=True, text=True, env=env)
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    ok = next(p for p in report["plugins"] if p["distribution"] == "dist-ok")
    assert ok["version"] == "3.1.4"
    assert ok["registers"] == [{"kind": "environment", "name": "ok-env"}]
    assert {"kind": "verifier", "name": "dup", "distributions": ["dist-dup1", "dist-dup2"]} in report["conflicts"]
    assert any(f["distribution"] == "dist-bad" and "no wheels for you" in f["error"]
               for f in report["failures"])

    text = subprocess.run([sys.executable, "-m", "harness", "plugins"],
                          capture_output=True, text=True, env=env).stdout
    assert "dist-ok 3.1.4" in text and "FAILED dist-bad 0.1" in text
    assert "CONFLICT verifier 'dup' registered by dist-dup1 and dist-dup2" in text


# Faults of every kind: sys.exit at import or in a registrar, hooks that raise --------------

FIXTURE_EPISODE = Path(__file__).parent / "fixtures" / "episodes" / "connections.json"


def harness_env(site: Path, cache: Path, **extra: str) -> dict[str, str]:
    """An environment whose Python sees the fake distributions in `site`, with its own cache
    (where hook failures are logged)."""
    env = {**os.environ, "PYTHONPATH": str(site), "HARNESS_CACHE": str(cache), **extra}
    env.pop(plugins.ALLOW_VAR, None)
    env.pop(plugins.BLOCK_VAR, None)
    return env


def harness_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def episodes_file(tmp_path: Path) -> Path:
    """Two Connections episodes, as JSONL."""
    episode = json.loads(FIXTURE_EPISODE.read_text())
    path = tmp_path / "episodes.jsonl"
    path.write_text(json.dumps(episode) + "\n" + json.dumps({**episode, "episode_id": "ep-2"}) + "\n")
    return path


def test_sys_exit_while_importing_or_registering_is_a_named_failure(site, tmp_path):
    names = [uniq(tmp_path, s) for s in ("exits", "reg_exits")]
    install_fake_distribution(site, "dist-exits", "1.0", names[0], "import sys\nsys.exit(3)\n")
    install_fake_distribution(site, "dist-reg-exits", "2.0", names[1], """
        import sys
        from harness.plugins import hookimpl
        @hookimpl
        def register_formatters(register):
            sys.exit(4)
    """)
    env = harness_env(site, tmp_path / "cache")
    listed = harness_cli(env, "plugins", "--json")
    assert listed.returncode == 1, (listed.returncode, listed.stdout, listed.stderr)
    errors = {f["distribution"]: f["error"] for f in json.loads(listed.stdout)["failures"]}
    assert "sys.exit(3)" in errors["dist-exits"] and "sys.exit(4)" in errors["dist-reg-exits"]
    assert "harness-connections" in {p["distribution"] for p in json.loads(listed.stdout)["plugins"]}

    # Any other command goes on without them, and says so once.
    out = tmp_path / "rows.jsonl"
    formatted = harness_cli(env, "format", "run", "trl-messages", str(episodes_file(tmp_path)), "-o", str(out))
    assert formatted.returncode == 0, formatted.stderr
    assert len(out.read_text().splitlines()) == 2
    assert formatted.stderr.count("dist-exits 1.0") == 1 and "sys.exit(3)" in formatted.stderr
    assert formatted.stderr.count("dist-reg-exits 2.0") == 1


def test_keyboard_interrupt_while_importing_goes_through(site, tmp_path, monkeypatch):
    name = uniq(tmp_path, "ctrl_c")
    install_fake_distribution(site, "dist-ctrl-c", "1.0", name, "raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        load_from(site, monkeypatch)


def test_a_lifecycle_hook_wrapper_fails_its_plugin(site, tmp_path, monkeypatch):
    name = uniq(tmp_path, "wrapper")
    install_fake_distribution(site, "dist-wrapper", "1.0", name, """
        from harness.plugins import hookimpl
        @hookimpl(wrapper=True)
        def training_record(record, formatter):
            return (yield)
    """)
    [failure] = load_from(site, monkeypatch).failures
    assert failure.distribution == "dist-wrapper" and "cannot be wrappers: training_record" in failure.error


def test_training_record_hooks_that_raise_or_exit_are_isolated_and_listed(site, tmp_path):
    raises, exits, fine = (uniq(tmp_path, s) for s in ("row_raises", "row_exits", "row_fine"))
    install_fake_distribution(site, "dist-row-raises", "1.0", raises, """
        from harness.plugins import hookimpl
        @hookimpl
        def training_record(record, formatter):
            record["amended_before_the_raise"] = formatter
            raise ValueError("this row is rejected")
    """)
    install_fake_distribution(site, "dist-row-exits", "1.0", exits, """
        import sys
        from harness.plugins import hookimpl
        @hookimpl
        def training_record(record, formatter):
            sys.exit(5)
    """)
    install_fake_distribution(site, "dist-row-fine", "1.0", fine, """
        from harness.plugins import hookimpl
        @hookimpl
        def training_record(record, formatter):
            record["seen_by_fine"] = True
    """)
    env = harness_env(site, tmp_path / "cache")
    assert harness_cli(env, "plugins").returncode == 0, "no failure before any hook ran"

    out = tmp_path / "rows.jsonl"
    formatted = harness_cli(env, "format", "run", "trl-messages", str(episodes_file(tmp_path)), "-o", str(out))
    assert formatted.returncode == 0, formatted.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2, "every row is still written"
    assert all(r["seen_by_fine"] and r["amended_before_the_raise"] == "trl-messages" for r in rows)
    # Named once each on stderr, where the hook raised included; repeats are counted at exit.
    assert formatted.stderr.count("dist-row-raises 1.0 (entry point") == 1, formatted.stderr
    assert "ValueError: this row is rejected (at " in formatted.stderr
    assert "sys.exit(5)" in formatted.stderr
    assert "dist-row-raises 1.0: its training_record hook failed 2 times" in formatted.stderr

    listed = harness_cli(env, "plugins", "--json")
    assert listed.returncode == 1, listed.stderr
    failed = {(h["distribution"], h["hook"]): h for h in json.loads(listed.stdout)["hook_failures"]}
    assert set(failed) == {("dist-row-raises", "training_record"), ("dist-row-exits", "training_record")}
    assert failed[("dist-row-raises", "training_record")]["runs"] == 1
    assert "this row is rejected" in failed[("dist-row-raises", "training_record")]["error"]
    assert "format run trl-messages" in failed[("dist-row-raises", "training_record")]["command"]
    text = harness_cli(env, "plugins").stdout
    assert "HOOK FAILED dist-row-exits 1.0" in text and "training_record raised in 1 run(s)" in text

    forgotten = harness_cli(env, "plugins", "--json", "--forget-hook-failures")
    assert forgotten.returncode == 0 and json.loads(forgotten.stdout)["hook_failures"] == []


VERIFY = """
    import json, sys
    from harness import plugins
    episode = json.load(open(sys.argv[1]))
    verdict = plugins.get("verifier", "connections-rules")().verify_episode(episode)
    print(json.dumps(verdict.model_dump(mode="json"), sort_keys=True))
"""


def test_verdict_made_hook_that_raises_leaves_the_verdict_and_the_others(site, tmp_path):
    raises, fine = uniq(tmp_path, "verdict_raises"), uniq(tmp_path, "verdict_fine")
    install_fake_distribution(site, "dist-verdict-raises", "1.0", raises, """
        from harness.plugins import hookimpl
        @hookimpl
        def verdict_made(verdict, subject):
            verdict["verdict"] = "pass"  # the hook's copy: the verifier's verdict is its own
            raise RuntimeError("metrics server is down")
    """)
    install_fake_distribution(site, "dist-verdict-fine", "1.0", fine, """
        import json, os
        from harness.plugins import hookimpl
        @hookimpl
        def verdict_made(verdict, subject):
            with open(os.environ["VERDICTS_SEEN"], "a") as f:
                f.write(json.dumps(subject) + "\\n")
    """)
    seen = tmp_path / "seen.jsonl"
    env = harness_env(site, tmp_path / "cache", VERDICTS_SEEN=str(seen))
    run = [sys.executable, "-c", textwrap.dedent(VERIFY), str(FIXTURE_EPISODE)]
    done = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "dist-verdict-raises 1.0" in done.stderr and "metrics server is down" in done.stderr
    assert [json.loads(line)["verifier"] for line in seen.read_text().splitlines()] == ["connections-rules"]

    alone = subprocess.run(run, capture_output=True, text=True, timeout=300,
                           env={**env, plugins.BLOCK_VAR: "dist-verdict-raises"})
    assert alone.returncode == 0 and alone.stderr == "", alone.stderr
    assert json.loads(done.stdout) == json.loads(alone.stdout), "the verdict is the verifier's"
