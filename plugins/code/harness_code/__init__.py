"""Code verification for rollout-harness: HumanEval, MBPP and pytest verifiers over
`harness.sandbox`, and the `code` environment. See docs/sandbox.md.

Names are imported on first use: sandbox workers import `harness_code.runner` only, and every
module they hold makes each per-sample fork slower.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "HumanEvalVerifier": "harness_code.verifiers",
    "MBPPVerifier": "harness_code.verifiers",
    "PytestVerifier": "harness_code.verifiers",
    "VerifyResult": "harness_code.verifiers",
    "extract_code": "harness_code.extract",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'harness_code' has no attribute {name!r}")
