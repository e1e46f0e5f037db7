"""A plain program as an entry point: what `harness sandbox run FILE` executes in the child."""

from __future__ import annotations

import builtins
import os
import sys
from typing import Any, BinaryIO


def run_script(payload: dict[str, Any], results: BinaryIO) -> None:
    """Run `payload["code"]` as `python main.py` would (`__name__ == "__main__"`)."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins,
                                 "__file__": os.path.abspath("main.py")}
    sys.argv = ["main.py"]
    exec(compile(payload["code"], "main.py", "exec"), namespace)
