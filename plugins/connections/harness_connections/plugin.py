"""Entry point of the `harness-connections` distribution: registers the `connections` environment."""

from harness.plugins import hookimpl

from harness_connections.environment import ConnectionsEnv


@hookimpl
def register_environments(register):
    register(ConnectionsEnv)
