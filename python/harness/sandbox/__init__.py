"""Running untrusted Python: a fresh, isolated, resource-limited process per sample.

See docs/sandbox.md. The pieces:

- `levels`: what the machine allows (`detect()`), the isolation levels, the configured minimum;
- `limits`: per-sample limits (`Limits`);
- `pool`: the parent side (`Sandbox`, `RunResult`): pre-warmed workers, deadlines, failures;
- `worker`: the worker process that forks one child per sample and cleans up after it;
- `protocol`: the frames between them.
"""

from harness.sandbox.levels import (
    MINIMUM_VAR,
    Capabilities,
    IsolationLevel,
    SandboxUnavailable,
    configured_minimum,
    detect,
)
from harness.sandbox.limits import Limits
from harness.sandbox.pool import RunResult, Sandbox

__all__ = [
    "MINIMUM_VAR",
    "Capabilities",
    "IsolationLevel",
    "Limits",
    "RunResult",
    "Sandbox",
    "SandboxUnavailable",
    "configured_minimum",
    "detect",
]
