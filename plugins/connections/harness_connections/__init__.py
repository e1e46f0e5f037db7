"""The NYT Connections game as a rollout-harness environment (seed 001).

`ConnectionsEnv` plays puzzles loaded from files (`puzzles`) or generated from the category bank
shipped in `data/categories.json` (`bank`). The modules `predicates`, `selection`, `truncation`
and `rollout_record` are the seed's pure functions over rollout records (filtering, doctoring,
collation), kept apart from the game itself.
"""

from harness_connections.environment import ConnectionsEnv, ConnectionsSession

__all__ = ["ConnectionsEnv", "ConnectionsSession"]
