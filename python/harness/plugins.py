"""The plugin registry: environments, verifiers, formatters and backends found through entry points.

A plugin is a module (or object) named by an entry point in the `harness` group:

    [project.entry-points.harness]
    my_game = "my_game.plugin"

It implements registrar hooks, each called once with a `register(obj, name=None)` callable,
and any number of lifecycle hooks, which every plugin implementing them receives:

    from harness.plugins import hookimpl

    @hookimpl
    def register_environments(register):
        register(MyGame)                 # the name defaults to MyGame.name

    @hookimpl
    def episode_finished(episode):
        ...

The harness registers its own backends the same way, through its own entry point. A plugin
that fails to import or has a wrong hook signature is recorded as a failure, named by its
distribution, and the others load. Two plugins registering one name make that name ambiguous:
looking it up raises an error naming both distributions, while every other name still works.

`HARNESS_PLUGINS` (allow-list) and `HARNESS_PLUGINS_BLOCK` (block-list) take comma-separated
entry-point or distribution names.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import pluggy

PROJECT = "harness"
ALLOW_VAR = "HARNESS_PLUGINS"
BLOCK_VAR = "HARNESS_PLUGINS_BLOCK"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Kind = Literal["environment", "verifier", "formatter", "backend"]
KINDS: tuple[Kind, ...] = ("environment", "verifier", "formatter", "backend")
Register = Callable[..., None]


class HookSpecs:
    """Every hook a plugin may implement. Argument names are part of the contract."""

    @hookspec
    def register_environments(self, register: Register) -> None:
        """Register `harness.environment.Environment` subclasses."""

    @hookspec
    def register_verifiers(self, register: Register) -> None:
        """Register verifier classes or factories."""

    @hookspec
    def register_formatters(self, register: Register) -> None:
        """Register training-data formatters."""

    @hookspec
    def register_backends(self, register: Register) -> None:
        """Register generation backends."""

    @hookspec
    def episode_finished(self, episode: dict[str, Any]) -> None:
        """An episode record is complete and about to be written to its shard."""

    @hookspec
    def verdict_made(self, verdict: dict[str, Any], subject: dict[str, Any]) -> None:
        """A verifier decided; `subject` is what it judged (an episode or a sample)."""

    @hookspec
    def training_record(self, record: dict[str, Any], formatter: str) -> None:
        """A training record is about to be written; plugins may inspect or amend it in place."""


class PluginError(LookupError):
    """A name is unknown, ambiguous, or its plugin could not be loaded."""


@dataclass(frozen=True)
class Plugin:
    """One loaded entry point."""

    name: str  # the entry point's name
    distribution: str
    version: str


@dataclass(frozen=True)
class PluginFailure:
    """An entry point that did not load; the rest of the registry works without it."""

    name: str
    distribution: str
    version: str
    error: str


@dataclass(frozen=True)
class Registration:
    kind: Kind
    name: str
    obj: Any
    plugin: Plugin


@dataclass
class Registry:
    """What every loaded plugin registered, with the failures and conflicts met on the way."""

    plugins: list[Plugin] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    skipped: list[Plugin] = field(default_factory=list)  # left out by the allow/block lists
    registrations: dict[tuple[Kind, str], Registration] = field(default_factory=dict)
    conflicts: dict[tuple[Kind, str], list[Registration]] = field(default_factory=dict)
    manager: pluggy.PluginManager = field(default_factory=lambda: _new_manager())

    # -- loading ---------------------------------------------------------------------------

    def add(self, obj: Any, plugin: Plugin) -> None:
        """Register one plugin object (a module or any object with hook implementations)."""
        try:
            self.manager.register(obj, name=f"{plugin.distribution}:{plugin.name}")
            unknown = [c.name for c in self.manager.get_hookcallers(obj) or [] if c.spec is None]
            if unknown:
                raise PluginError(f"implements unknown hook(s): {', '.join(sorted(unknown))}")
            registered = self._collect(obj, plugin)
        except Exception as exc:  # a broken plugin must not take the others down
            if self.manager.is_registered(obj):
                self.manager.unregister(obj)
            self.failures.append(
                PluginFailure(plugin.name, plugin.distribution, plugin.version, _describe(exc))
            )
            return
        self.plugins.append(plugin)
        for reg in registered:
            self._store(reg)

    def _collect(self, obj: Any, plugin: Plugin) -> list[Registration]:
        """Call this plugin's registrar hooks only, so one bad registrar fails one plugin."""
        out: list[Registration] = []
        for kind in KINDS:
            hook = getattr(self.manager.hook, f"register_{kind}s")
            others = [p for p in self.manager.get_plugins() if p is not obj]

            def register(thing: Any, name: str | None = None, *, _kind: Kind = kind) -> None:
                reg_name = name if name is not None else getattr(thing, "name", None)
                if not isinstance(reg_name, str) or not reg_name:
                    raise PluginError(
                        f"{plugin.distribution}: register_{_kind}s registered {thing!r} "
                        "without a name (pass name= or give it a `name` attribute)"
                    )
                out.append(Registration(_kind, reg_name, thing, plugin))

            self.manager.subset_hook_caller(hook.name, remove_plugins=others)(register=register)
        return out

    def _store(self, reg: Registration) -> None:
        key = (reg.kind, reg.name)
        if key in self.conflicts:
            self.conflicts[key].append(reg)
        elif key in self.registrations:
            self.conflicts[key] = [self.registrations.pop(key), reg]
        else:
            self.registrations[key] = reg

    # -- lookup ----------------------------------------------------------------------------

    def get(self, kind: Kind, name: str) -> Any:
        """The registered object, or a PluginError saying why there is none."""
        key = (kind, name)
        if key in self.registrations:
            return self.registrations[key].obj
        if key in self.conflicts:
            owners = " and ".join(
                f"{r.plugin.distribution} {r.plugin.version}" for r in self.conflicts[key]
            )
            raise PluginError(
                f"{kind} {name!r} is registered by both {owners}; "
                f"block one with {BLOCK_VAR}=<distribution>"
            )
        known = ", ".join(sorted(self.names(kind))) or "none"
        hint = ""
        if self.failures:
            hint = "; plugins that failed to load: " + ", ".join(
                f.distribution for f in self.failures
            )
        raise PluginError(f"no {kind} named {name!r} (known: {known}){hint}")

    def names(self, kind: Kind) -> list[str]:
        return sorted(n for k, n in self.registrations if k == kind)

    def provided_by(self, plugin: Plugin) -> list[Registration]:
        regs = [r for r in self.registrations.values() if r.plugin == plugin]
        regs += [r for group in self.conflicts.values() for r in group if r.plugin == plugin]
        return sorted(regs, key=lambda r: (KINDS.index(r.kind), r.name))

    def versions(self) -> dict[str, str]:
        """Distribution → version of every loaded plugin: what provenance records."""
        return {p.distribution: p.version for p in self.plugins}

    @property
    def hook(self) -> Any:
        """Lifecycle hooks: `registry.hook.episode_finished(episode=...)`."""
        return self.manager.hook


def _new_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(HookSpecs)
    return manager


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _names_from_env(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _selected(plugin: Plugin, allow: set[str] | None, block: set[str]) -> bool:
    names = {plugin.name, plugin.distribution}
    if names & block:
        return False
    return allow is None or bool(names & allow)


def load(entry_points: Iterable[importlib.metadata.EntryPoint] | None = None) -> Registry:
    """A fresh registry from the `harness` entry points (or the ones given)."""
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=PROJECT)
    allow = _names_from_env(ALLOW_VAR)
    block = _names_from_env(BLOCK_VAR) or set()
    registry = Registry()
    for ep in sorted(entry_points, key=lambda e: (e.dist.name if e.dist else "", e.name)):
        dist = ep.dist.name if ep.dist else "<unknown distribution>"
        version = ep.dist.version if ep.dist else "0"
        plugin = Plugin(ep.name, dist, version)
        if not _selected(plugin, allow, block):
            registry.skipped.append(plugin)
            continue
        try:
            obj = ep.load()
        except Exception as exc:  # an import error in one plugin is reported, not raised
            registry.failures.append(PluginFailure(ep.name, dist, version, _describe(exc)))
            continue
        registry.add(obj, plugin)
    return registry


_lock = threading.Lock()
_registry: Registry | None = None


def registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = load()
        return _registry


def reset() -> None:
    """Forget the process-wide registry (after installing a plugin, or in tests)."""
    global _registry
    with _lock:
        _registry = None


def get(kind: Kind, name: str) -> Any:
    """Shorthand for `registry().get(kind, name)`."""
    return registry().get(kind, name)
