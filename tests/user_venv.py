"""A user's virtual environment for the scaffold and tutorial tests: `pip install -e` of a new
plugin goes into it, never into the project's .venv (which other tests share).

It is a real venv whose site-packages also reads the .venv's (with `site.addsitedir`, so the
.venv's own .pth files, the editable harness among them, work), as if the harness had been
pip-installed into it. `pip`, `harness` and `pytest` on its PATH run its Python. pip is told to
use no index and no build isolation: everything a plugin's build needs (setuptools) is in the
.venv already, so the tests need no network.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

COMMANDS = ("pip", "harness", "pytest")  # each runs as `python -m COMMAND` of the venv


def make_user_venv(root: Path) -> dict[str, str]:
    """Create the venv at `root`; return the environment (os.environ) to run commands in it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    harness_site = sysconfig.get_paths()["purelib"]
    Path(site, "harness-from-project-venv.pth").write_text(
        f"import site; site.addsitedir({harness_site!r})\n", encoding="utf-8")
    for command in COMMANDS:
        wrapper = root / "bin" / command
        wrapper.write_text(f'#!/bin/sh\nexec "{python}" -m {command} "$@"\n', encoding="utf-8")
        wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "HARNESS_PLUGINS", "HARNESS_PLUGINS_BLOCK", "PYTHONHOME")}
    env.update({
        "VIRTUAL_ENV": str(root),
        "PATH": f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # pip reads this variable inverted: 0 turns isolation off
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    })
    return env
