"""Entry point of the `harness-connections` distribution: registers the `connections` environment,
its game-rules verifier and its oracle player (a backend)."""

from harness.plugins import hookimpl
from harness_connections.environment import ConnectionsEnv
from harness_connections.oracle import ConnectionsOracle
from harness_connections.verifier import RulesVerifier


@hookimpl
def register_environments(register):
    register(ConnectionsEnv)


@hookimpl
def register_verifiers(register):
    register(RulesVerifier)


@hookimpl
def register_backends(register):
    register(ConnectionsOracle)
