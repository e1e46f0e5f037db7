"""Registers the `data-analysis` environment (entry point `data_analysis` in the `harness` group)."""

from harness.plugins import hookimpl

from harness_data_analysis.environment import DataAnalysisEnvironment


@hookimpl
def register_environments(register):
    register(DataAnalysisEnvironment)
