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
