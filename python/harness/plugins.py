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
that fails to import (any exception, `sys.exit()` included), raises in a registrar or has a
wrong hook signature is recorded as a failure, named by its distribution, and the others load.
Two plugins registering one name make that name ambiguous: looking it up raises an error naming
both distributions, while every other name still works.

Lifecycle hooks are called through `registry.hook`, which calls each plugin's implementation on
its own: one that raises is recorded as a `HookFailure`, reported once on stderr by name and
logged for `harness plugins` (`HOOK_FAILURE_LOG`), and the other plugins' hooks still run. Only
KeyboardInterrupt goes through.

`HARNESS_PLUGINS` (allow-list) and `HARNESS_PLUGINS_BLOCK` (block-list) take comma-separated
entry-point or distribution names.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pluggy

PROJECT = "harness"
ALLOW_VAR = "HARNESS_PLUGINS"
BLOCK_VAR = "HARNESS_PLUGINS_BLOCK"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Kind = Literal["environment", "verifier", "formatter", "backend"]
KINDS: tuple[Kind, ...] = ("environment", "verifier", "formatter", "backend")
LIFECYCLE_HOOKS = ("episode_finished", "verdict_made", "training_record")
Register = Callable[..., None]
HOOK_FAILURE_LOG = "plugin-hook-failures.jsonl"
"""File in the cache directory (`$HARNESS_CACHE`) where hook failures are logged, one line per
process, plugin and hook, for `harness plugins` to list."""


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


@dataclass
class HookFailure:
    """A plugin's lifecycle hook raised; the call went on without it. `error` is the first
    error, `count` how many calls of this hook failed in this process."""

    hook: str
    name: str  # the plugin's entry point
    distribution: str
    version: str
    error: str
    count: int = 1


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
    hook_failures: dict[tuple[str, str], HookFailure] = field(default_factory=dict)  # (plugin, hook)
    manager: pluggy.PluginManager = field(default_factory=lambda: _new_manager())
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _hooks: Hooks | None = field(default=None, repr=False)

    # -- loading ---------------------------------------------------------------------------

    def add(self, obj: Any, plugin: Plugin) -> None:
        """Register one plugin object (a module or any object with hook implementations)."""
        try:
            self.manager.register(obj, name=_manager_name(plugin))
            callers = self.manager.get_hookcallers(obj) or []
            unknown = [c.name for c in callers if c.spec is None]
            if unknown:
                raise PluginError(f"implements unknown hook(s): {', '.join(sorted(unknown))}")
            wrappers = [c.name for c in callers if c.name in LIFECYCLE_HOOKS and any(
                i.plugin is obj and (i.hookwrapper or i.wrapper) for i in c.get_hookimpls())]
            if wrappers:
                raise PluginError(f"lifecycle hooks cannot be wrappers: {', '.join(sorted(wrappers))}")
            registered = self._collect(obj, plugin)
        except BaseException as exc:  # a broken plugin, even one calling sys.exit, must not take the others down
            if isinstance(exc, KeyboardInterrupt):
                raise
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
    def hook(self) -> Hooks:
        """Lifecycle hooks: `registry.hook.episode_finished(episode=...)`, each plugin's
        implementation called on its own (see `IsolatedHook`)."""
        if self._hooks is None:
            self._hooks = Hooks(self)
        return self._hooks

    def plugin_named(self, manager_name: str) -> Plugin:
        """The plugin registered with the plugin manager under `manager_name`."""
        for plugin in self.plugins:
            if _manager_name(plugin) == manager_name:
                return plugin
        return Plugin(manager_name, manager_name, "0")

    def hook_failed(self, manager_name: str, hook: str, exc: BaseException) -> None:
        """Records that a plugin's lifecycle hook raised; the first time, says so on stderr and
        in the hook-failure log."""
        with self._lock:
            known = self.hook_failures.get((manager_name, hook))
            if known is not None:
                known.count += 1
                return
            plugin = self.plugin_named(manager_name)
            failure = HookFailure(hook, plugin.name, plugin.distribution, plugin.version, _describe(exc, where=True))
            self.hook_failures[(manager_name, hook)] = failure
            if len(self.hook_failures) == 1:
                atexit.register(self._summarize_hook_failures)
        print(
            f"harness: plugin {failure.distribution} {failure.version} (entry point {failure.name}): "
            f"its {hook} hook raised {failure.error}; the other plugins' hooks still run. "
            "Later failures of this hook are counted, not printed; `harness plugins` lists them.",
            file=sys.stderr,
        )
        _log_hook_failure(failure)

    def _summarize_hook_failures(self) -> None:
        repeated = [f for f in self.hook_failures.values() if f.count > 1]
        for f in repeated:
            print(f"harness: plugin {f.distribution} {f.version}: its {f.hook} hook failed {f.count} times",
                  file=sys.stderr)


class Hooks:
    """`registry.hook`: the lifecycle hooks by name (`registry.hook.verdict_made`)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._by_name: dict[str, IsolatedHook] = {}

    def __getattr__(self, name: str) -> IsolatedHook:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._by_name:
            caller = getattr(self._registry.manager.hook, name)  # AttributeError for no such hook
            self._by_name[name] = IsolatedHook(self._registry, caller)
        return self._by_name[name]


class IsolatedHook:
    """One lifecycle hook. Calling it calls every plugin's implementation in pluggy's order,
    each on its own: one that raises (anything but KeyboardInterrupt, `sys.exit()` included) is
    recorded with `Registry.hook_failed`, and the next one runs. What an implementation did to
    its arguments before raising stays done."""

    def __init__(self, registry: Registry, caller: pluggy.HookCaller) -> None:
        self._registry = registry
        self._caller = caller
        self.name = caller.name

    def get_hookimpls(self) -> list[pluggy.HookImpl]:
        """The implementations, as pluggy lists them (empty: nobody listens)."""
        return self._caller.get_hookimpls()

    def __call__(self, **kwargs: Any) -> None:
        spec = self._caller.spec
        missing = [a for a in (spec.argnames if spec else ()) if a not in kwargs]
        if missing:
            raise TypeError(f"hook {self.name} called without {', '.join(missing)}")
        # pluggy calls the last registered first (tryfirst/trylast sort the list it keeps).
        for impl in reversed(self._caller.get_hookimpls()):
            try:
                impl.function(*[kwargs[a] for a in impl.argnames])
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._registry.hook_failed(impl.plugin_name, self.name, exc)


def _manager_name(plugin: Plugin) -> str:
    return f"{plugin.distribution}:{plugin.name}"


def hook_failure_log() -> Path:
    """Where hook failures are logged: `HOOK_FAILURE_LOG` in the cache directory."""
    from harness.embedded_model import cache_dir

    return cache_dir() / HOOK_FAILURE_LOG


def _log_hook_failure(failure: HookFailure) -> None:
    """Appends one line to the hook-failure log. The log is a diagnosis aid: when it cannot be
    written, the stderr report already said what happened."""
    line = json.dumps({
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "distribution": failure.distribution,
        "version": failure.version,
        "entry_point": failure.name,
        "hook": failure.hook,
        "error": failure.error[:1000],
        "command": " ".join(sys.argv)[:300],
    }, ensure_ascii=False)
    try:
        path = hook_failure_log()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:  # one short write: lines of concurrent runs stay whole
            f.write(line + "\n")
    except OSError:
        pass


def logged_hook_failures(registry: Registry) -> list[dict[str, Any]]:
    """The logged hook failures of the plugins loaded now, at their current versions, one entry
    per (distribution, hook): how many runs it failed in, and the last error."""
    try:
        lines = hook_failure_log().read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    current = {(p.distribution, p.version) for p in registry.plugins}
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for line in lines:
        try:
            entry = json.loads(line)
            key = (entry["distribution"], entry["hook"])
            if (entry["distribution"], entry["version"]) not in current:
                continue
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a crash
        runs = grouped.get(key, {}).get("runs", 0) + 1
        grouped[key] = {**entry, "runs": runs}
    return [grouped[k] for k in sorted(grouped)]


def forget_hook_failures() -> None:
    """Empties the hook-failure log (after fixing or removing the plugins it names)."""
    with contextlib.suppress(FileNotFoundError):
        hook_failure_log().unlink()


def _new_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(HookSpecs)
    return manager


def _describe(exc: BaseException, *, where: bool = False) -> str:
    """`Type: message`; a SystemExit says it was a call to sys.exit. With `where`, the line
    that raised is added, for the plugin's author."""
    if isinstance(exc, SystemExit):
        text = f"SystemExit: the plugin called sys.exit({exc.code!r})"
    else:
        message = str(exc).strip()
        text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__) if where else []
    if frames:
        text += f" (at {frames[-1].filename}:{frames[-1].lineno})"
    return text


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
        except BaseException as exc:  # any fault while importing one plugin is reported, not raised
            if isinstance(exc, KeyboardInterrupt):
                raise
            registry.failures.append(PluginFailure(ep.name, dist, version, _describe(exc)))
            continue
        registry.add(obj, plugin)
    return registry


_lock = threading.Lock()
_registry: Registry | None = None


def registry() -> Registry:
    """The process-wide registry, loaded on first use; plugins that failed to load are named
    on stderr then."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = load()
            for f in _registry.failures:
                print(f"harness: plugin {f.distribution} {f.version} (entry point {f.name}) was not "
                      f"loaded: {f.error}; `harness plugins` lists every plugin", file=sys.stderr)
        return _registry


def reset() -> None:
    """Forget the process-wide registry (after installing a plugin, or in tests)."""
    global _registry
    with _lock:
        _registry = None


def get(kind: Kind, name: str) -> Any:
    """Shorthand for `registry().get(kind, name)`."""
    return registry().get(kind, name)
