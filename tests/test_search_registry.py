"""The search plugin is found through its entry point, like any third-party plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from harness import plugins
from harness_search import SearchEnvironment


def test_discovered_through_the_registry(monkeypatch):
    monkeypatch.delenv(plugins.ALLOW_VAR, raising=False)
    monkeypatch.delenv(plugins.BLOCK_VAR, raising=False)
    registry = plugins.load()
    assert registry.get("environment", "search") is SearchEnvironment
    [plugin] = [p for p in registry.plugins if p.distribution == "harness-search"]
    assert plugin.name == "search" and plugin.version == SearchEnvironment.version
    assert registry.versions()["harness-search"] == SearchEnvironment.version


def test_listed_by_harness_plugins():
    env = {k: v for k, v in os.environ.items() if k not in (plugins.ALLOW_VAR, plugins.BLOCK_VAR)}
    out = subprocess.run([sys.executable, "-m", "harness", "plugins", "--json"],
                         capture_output=True, text=True, env=env, check=False).stdout
    [entry] = [p for p in json.loads(out)["plugins"] if p["distribution"] == "harness-search"]
    assert entry["registers"] == [{"kind": "environment", "name": "search"}]


def test_blocked_by_the_block_list(monkeypatch):
    monkeypatch.setenv(plugins.BLOCK_VAR, "harness-search")
    registry = plugins.load()
    assert "search" not in registry.names("environment")
    assert any(p.distribution == "harness-search" for p in registry.skipped)
