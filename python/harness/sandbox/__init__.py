"""Running untrusted Python: a fresh, isolated, resource-limited process per sample.

See docs/sandbox.md. The pieces:

- `levels`: what the machine allows (`detect()`), the isolation levels, the configured minimum;
- `limits`: per-sample limits (`Limits`);
- `pool`: the parent side (`Sandbox`, `RunResult`): pre-warmed workers, deadlines, failures;
- `view`: what a sandboxed process sees of the host (interpreter, standard library, declared
  packages, a staged copy of the trusted modules it runs);
- `worker`: the worker process that forks one child per sample and cleans up after it;
- `protocol`: the frames between them.

Names are imported on first use: a worker imports `harness.sandbox.worker` only, and every
module it holds makes each per-sample fork slower.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "MINIMUM_VAR": "harness.sandbox.levels",
    "Capabilities": "harness.sandbox.levels",
    "choose_level": "harness.sandbox.levels",
    "IsolationLevel": "harness.sandbox.levels",
    "SandboxUnavailable": "harness.sandbox.levels",
    "configured_minimum": "harness.sandbox.levels",
    "detect": "harness.sandbox.levels",
    "Limits": "harness.sandbox.limits",
    "RunResult": "harness.sandbox.pool",
    "Sandbox": "harness.sandbox.pool",
    "SandboxSetupError": "harness.sandbox.view",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'harness.sandbox' has no attribute {name!r}")
