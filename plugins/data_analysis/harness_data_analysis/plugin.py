"""Registers the `data-analysis` environment and the `triangulation` verifier (entry point
`data_analysis`, group `harness`)."""

from harness.plugins import hookimpl
from harness_data_analysis.environment import DataAnalysisEnvironment


@hookimpl
def register_environments(register):
    register(DataAnalysisEnvironment)


@hookimpl
def register_verifiers(register):
    from harness_data_analysis.verifier import TriangulationVerifier

    register(TriangulationVerifier)
