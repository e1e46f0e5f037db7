"""rollout-harness: generate, verify, doctor and format multi-turn agent rollouts."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rollout-harness")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
