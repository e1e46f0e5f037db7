"""The rollout engine: many concurrent episodes of any environment with any backend, streamed to
resumable JSONL shards. See docs/rollouts.md.

- `config`: the run's settings (`RolloutConfig`) and the deterministic plan of episodes
- `episodes`: running episodes concurrently into episode records
- `shard`: chunked atomic commits, resume, the final shard file
- `progress`: the progress bar
- `run`: `generate_shard` and `generate`, which put the above together, and the manifests
"""

from harness.engine.config import RolloutConfig
from harness.engine.run import agenerate_shard, generate, generate_shard

__all__ = ["RolloutConfig", "agenerate_shard", "generate", "generate_shard"]
