"""What a sandboxed process sees of the host: the interpreter, the standard library, the
packages declared for it, and a copy of the trusted modules it runs. Nothing else.

A `View` is built in the parent from two lists:

- `modules`: the trusted modules the sandboxed process imports itself (the worker, the runner of
  the verifiers, an entry point). Each is **staged**: copied, with the first-party modules it
  imports (followed through its `import` statements), into a fresh directory readable by any
  uid. Their parent packages are staged as empty `__init__.py` files, so a package's own
  start-up code (reading its metadata, registering plugins) never runs in the sandbox. The copy
  does not depend on where or how the project is installed (editable, wheel, `--target`, a
  checkout under /tmp or in a 0700 directory): it is always the same fresh directory.
- `packages`: distributions (pip names) the sandboxed code may import, with their requirements:
  each one's top-level directories and files (its `*.libs` vendored libraries and metadata
  included), found with `importlib.metadata`, make up a synthetic site-packages.

At the `namespaces` and `strict` levels the process runs in a bubblewrap root built from
explicit binds only (`bwrap_args`): the interpreter, its standard library (the interpreter's
own site-packages masked), the system libraries, `/dev`, `/proc`, a private `/tmp`, the staged
modules at `CODE_DIR` and the packages at `SITE_DIR`. No dataset, no checkout, no home
directory, no other project is in it. Without a mount namespace (`process`, `none`) the same
two directories exist on the host (the packages as symbolic links), so imports behave the
same, but every file the process's uid may read stays readable.
"""

from __future__ import annotations

import ast
import atexit
import compileall
import functools
import importlib.metadata
import importlib.util
import os
import re
import shutil
import site
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

CODE_DIR = "/sandbox/code"
"""Where the staged modules are inside the sandbox (first on `sys.path`)."""
SITE_DIR = "/sandbox/site"
"""Where the declared packages are inside the sandbox (after the staged modules)."""
SYSTEM_LIBRARIES = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libx32",
                    "/lib", "/lib64", "/lib32", "/libx32")
"""The shared libraries the interpreter and extension modules link (libc, libssl, libffi...)."""
SYSTEM_FILES = ("/etc/ld.so.cache", "/usr/share/zoneinfo")
"""The dynamic loader's index of those libraries; the time zone database `zoneinfo` reads."""


class SandboxSetupError(RuntimeError):
    """What the sandbox needs cannot be found on this machine (a module, a package): raised when
    a sandbox is created, naming what is missing and how to fix it."""


@dataclass
class View:
    """One view, built by `view()`: where its two directories are on the host, and what is in
    them."""

    modules: tuple[str, ...]
    packages: tuple[str, ...]
    root: str
    """The host directory holding `code/` (the staged copy) and `site/` (links to packages)."""
    staged: set[str] = field(default_factory=set)
    """Every module staged: those asked for and the first-party modules they import."""
    site: dict[str, str] = field(default_factory=dict)
    """Entries of the synthetic site-packages: name (path below it) -> host path."""

    @property
    def code_dir(self) -> str:
        return os.path.join(self.root, "code")

    @property
    def site_dir(self) -> str:
        return os.path.join(self.root, "site")

    def provides(self, module: str) -> bool:
        """Whether `module` can be imported in the sandbox beyond the standard library."""
        top = module.partition(".")[0]
        return module in self.staged or any(_module_name(name) == top for name in self.site)

    def python_path(self, mounted: bool) -> str:
        """PYTHONPATH of a sandboxed interpreter: staged modules, then packages (inside a
        mount namespace at `CODE_DIR`/`SITE_DIR`, else at their host directories)."""
        if mounted:
            return os.pathsep.join((CODE_DIR, SITE_DIR))
        return os.pathsep.join((self.code_dir, self.site_dir))

    def bwrap_args(self) -> list[str]:
        """bubblewrap arguments building the root of the sandbox from explicit binds (the root
        itself is an empty tmpfs, remounted read-only once everything is in place)."""
        binds = [*interpreter_binds(), ("--ro-bind", self.code_dir, CODE_DIR)]
        binds += [("--ro-bind", host, f"{SITE_DIR}/{name}") for name, host in sorted(self.site.items())]
        return mount_args(binds, directories=[SITE_DIR])


def mount_args(mounts: Iterable[tuple[str, ...]], directories: Iterable[str] = ()) -> list[str]:
    """bubblewrap arguments for `mounts` (option, arguments..., destination last), preceded by
    every directory they need that is not there: mode 0755, so that any uid reaches what is
    bound below them (bubblewrap would make them 0700)."""
    mounts = list(mounts)
    wanted = set(directories)
    for mount in mounts:
        wanted.update(_ancestors(mount[-1]))
    covered = [m[-1] for m in mounts if m[0] in ("--ro-bind", "--symlink")]
    args: list[str] = []
    for directory in sorted(d for d in wanted if not any(_inside(d, c) for c in covered)):
        args += ["--perms", "0755", "--dir", directory]
    for mount in mounts:
        args += list(mount)
    return args


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:depth]) for depth in range(1, len(parts))]


def python_executable() -> str:
    """The interpreter sandboxed processes run: the base interpreter (not a virtual
    environment's, whose site-packages hold everything installed)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


@functools.cache
def interpreter_binds() -> tuple[tuple[str, ...], ...]:
    """Mounts (as `mount_args` takes them) of the interpreter, its standard library and the
    system libraries, read-only, with the interpreter's own site-packages directories masked
    (pip installs into them). The same for the whole process: computed once."""
    paths = {python_executable(), *_python_dirs()}
    mounts: list[tuple[str, ...]] = []
    for path in SYSTEM_LIBRARIES:
        if os.path.islink(path):
            mounts.append(("--symlink", os.readlink(path), path))
        elif os.path.isdir(path):
            paths.add(path)
    paths.update(p for p in SYSTEM_FILES if os.path.exists(p))
    bound = sorted(_outermost(paths))
    mounts += [("--ro-bind", path, path) for path in bound]
    prefixes = list({sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix})
    masked = {*site.getsitepackages(prefixes), site.getusersitepackages()}
    for directory in sorted({os.path.realpath(d) for d in masked}):
        if os.path.isdir(directory) and any(_inside(directory, b) for b in bound):
            mounts.append(("--tmpfs", directory))
    return tuple(mounts)


def _python_dirs() -> set[str]:
    """The standard library (and its lib-dynload), and the directory holding libpython."""
    # Asked for with the base prefixes: in a virtual environment `platstdlib` would otherwise
    # name the environment's own lib/pythonX.Y, which holds its site-packages.
    base = {"base": sys.base_prefix, "installed_base": sys.base_prefix,
            "platbase": sys.base_exec_prefix, "installed_platbase": sys.base_exec_prefix}
    dirs = {sysconfig.get_path("stdlib", vars=base), sysconfig.get_path("platstdlib", vars=base)}
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        dirs.add(sysconfig.get_config_var("LIBDIR"))
    return {os.path.realpath(d) for d in dirs if d and os.path.isdir(d)}


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _outermost(paths: Iterable[str]) -> set[str]:
    """The paths that are not inside another one (binding those binds the rest)."""
    paths = set(paths)
    return {p for p in paths if not any(q != p and _inside(p, q) for q in paths)}


# -- building views ------------------------------------------------------------------------------

_lock = threading.Lock()
_views: dict[tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...]], View] = {}


def view(modules: Iterable[str], packages: Iterable[str] = (),
         data: dict[str, str] | None = None) -> View:
    """The view of the sandboxed process that runs `modules` and may import `packages` (see the
    module's docstring); `data` adds read-only entries below the synthetic site-packages (path
    below it -> host path). Built once per process for each combination, removed at exit.
    Raises `SandboxSetupError` naming what cannot be found."""
    key = (tuple(dict.fromkeys(modules)), tuple(dict.fromkeys(packages)),
           tuple(sorted((data or {}).items())))
    with _lock:
        if key not in _views:
            _views[key] = _build(*key)
        return _views[key]


def _build(modules: tuple[str, ...], packages: tuple[str, ...],
           data: tuple[tuple[str, str], ...]) -> View:
    root = tempfile.mkdtemp(prefix="harness-sandbox-view-")
    atexit.register(shutil.rmtree, root, True)
    os.chmod(root, 0o755)  # any sandbox uid reads it (the `process` level has no binds)
    result = View(modules, packages, root)
    try:
        result.site = _package_entries(packages)
        result.site.update(data)
        tops = {_module_name(name) for name in result.site}
        _stage(result, [m for m in modules if m.partition(".")[0] not in tops])
        _link_site(result)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return result


def _link_site(result: View) -> None:
    """The synthetic site-packages on the host, as symbolic links (for levels without binds)."""
    os.makedirs(result.site_dir, mode=0o755)
    for name, host in result.site.items():
        link = os.path.join(result.site_dir, name)
        os.makedirs(os.path.dirname(link), mode=0o755, exist_ok=True)
        os.symlink(host, link)


# -- staging trusted modules ---------------------------------------------------------------------


def _stage(result: View, modules: list[str]) -> None:
    first_party = {m.partition(".")[0] for m in modules}
    todo = list(modules)
    real: set[str] = set()  # packages whose own __init__ was staged (not an empty one)
    while todo:
        name = todo.pop()
        if name in result.staged:
            continue
        spec = _find_spec(name)
        if spec is None or not spec.origin or not os.path.isfile(spec.origin):
            raise SandboxSetupError(
                f"module {name!r}, to run inside the sandbox, cannot be found in this "
                "interpreter: install the package that provides it (pip install -e <its "
                "directory>, or pip install <its name>)"
            )
        result.staged.add(name)
        parts = name.split(".")
        package = spec.submodule_search_locations is not None
        directory = os.path.join(result.code_dir, *(parts if package else parts[:-1]))
        os.makedirs(directory, mode=0o755, exist_ok=True)
        target = os.path.join(directory, os.path.basename(spec.origin))
        shutil.copyfile(spec.origin, target)
        shutil.copystat(spec.origin, target)  # its mtime: the compiled file below stays valid
        if package:
            real.add(name)
        for depth in range(1, len(parts)):
            parent = ".".join(parts[:depth])
            stub = os.path.join(result.code_dir, *parts[:depth], "__init__.py")
            if parent not in real and not os.path.exists(stub):
                open(stub, "w").close()
        if spec.origin.endswith(".py"):
            here = name if package else ".".join(parts[:-1])
            for imported in _imports(spec.origin, here, first_party):
                if imported not in result.staged:
                    todo.append(imported)
    compileall.compile_dir(result.code_dir, quiet=2)
    for directory, _, files in os.walk(result.code_dir):  # whatever the umask: any uid reads it
        os.chmod(directory, 0o755)
        for file in files:
            os.chmod(os.path.join(directory, file), 0o644)


def _find_spec(name: str) -> importlib.machinery.ModuleSpec | None:
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def _imports(path: str, package: str, first_party: set[str]) -> set[str]:
    """The first-party modules a file imports, anywhere in it but under `if TYPE_CHECKING:`
    (`package`: the file's package, for relative imports). For `from X import y`: `X.y` when
    that is a module, else X."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.partition(".")[0] in first_party)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.partition(".")[0] in first_party:
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    found.add(submodule if alias.name != "*" and _find_spec(submodule) else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


# -- declared packages ---------------------------------------------------------------------------

_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _package_entries(packages: Iterable[str]) -> dict[str, str]:
    """Top-level files and directories of each package and of everything it requires."""
    entries: dict[str, str] = {}
    seen: set[str] = set()
    todo = list(packages)
    declared = set(todo)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            if name in declared:
                raise SandboxSetupError(
                    f"package {name!r}, declared for the sandbox, is not installed in this "
                    f"interpreter: pip install {name}"
                ) from None
            continue  # a requirement whose marker excludes this machine, or missing: pip's job
        found = _top_levels(dist)
        if not found:
            raise SandboxSetupError(
                f"package {name!r}, declared for the sandbox, lists no files of its own "
                "(installed without a RECORD?): reinstall it with pip"
            )
        for entry, host in found.items():
            if entries.setdefault(entry, host) != host:
                raise SandboxSetupError(
                    f"{entry!r} of package {name!r} ({host}) clashes with {entries[entry]}"
                )
        for requirement in dist.requires or ():
            requirement_name, _, marker = requirement.partition(";")
            match = _REQUIREMENT_NAME.match(requirement_name)
            if match and "extra" not in marker:
                todo.append(match.group(1))
    return entries


def _top_levels(dist: importlib.metadata.Distribution) -> dict[str, str]:
    """A distribution's top-level entries in its site-packages (packages, modules, `*.libs`,
    its metadata), as name -> host path. Editable installs (a `.pth` file and a finder) are
    followed to the directories their modules come from."""
    entries: dict[str, str] = {}
    for file in dist.files or ():
        top = file.parts[0] if file.parts else ""
        if not top or top in ("..", "__pycache__") or top.endswith(".pth"):
            continue
        if top.startswith("__editable__") or _module_name(top) in sys.stdlib_module_names:
            continue
        path = os.path.realpath(str(dist.locate_file(top)))
        if os.path.exists(path):
            entries[top] = path
    names = (dist.read_text("top_level.txt") or "").split()
    for name in names:
        if any(_module_name(entry) == name for entry in entries):
            continue
        spec = _find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            entries[name] = os.path.realpath(next(iter(spec.submodule_search_locations)))
        elif spec is not None and spec.origin and os.path.isfile(spec.origin):
            entries[os.path.basename(spec.origin)] = os.path.realpath(spec.origin)
    return entries


def _module_name(entry: str) -> str:
    """The import name a site-packages entry provides: `six.py` -> six, `numpy.libs` -> none."""
    name = entry.split("/")[0]
    if name.endswith((".dist-info", ".egg-info", ".libs", ".data")):
        return ""
    return name.split(".")[0]
