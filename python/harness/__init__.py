"""rollout-harness: generate, verify, doctor and format multi-turn agent rollouts."""

from typing import Any


def __getattr__(name: str) -> Any:
    # Looked up on first use: importlib.metadata pulls in email, zipfile and csv, which every
    # sandbox worker (a process forked once per sample) would otherwise carry.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("rollout-harness")
        except PackageNotFoundError:  # running from a source tree that was never installed
            value = "0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
