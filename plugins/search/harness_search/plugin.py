"""Registers the `search` environment with the harness (entry point `search` in group `harness`)."""

from harness.plugins import hookimpl
from harness_search.environment import SearchEnvironment


@hookimpl
def register_environments(register):
    register(SearchEnvironment)
