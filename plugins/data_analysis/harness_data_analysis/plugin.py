"""Registers the `data-analysis` environment (entry point `data_analysis`, group `harness`)."""

from harness.plugins import hookimpl

from harness_data_analysis.environment import DataAnalysisEnvironment


@hookimpl
def register_environments(register):
    register(DataAnalysisEnvironment)
