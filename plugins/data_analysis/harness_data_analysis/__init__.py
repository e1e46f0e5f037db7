"""The `data-analysis` environment plugin for rollout-harness (seed 000)."""

from importlib.metadata import version

__version__ = version("harness-data-analysis")
