"""Code verification for rollout-harness: HumanEval, MBPP and pytest verifiers over
`harness.sandbox`, and the `code` environment. See docs/sandbox.md."""

from harness_code.extract import extract_code
from harness_code.verifiers import (
    HumanEvalVerifier,
    MBPPVerifier,
    PytestVerifier,
    VerifyResult,
)

__all__ = ["HumanEvalVerifier", "MBPPVerifier", "PytestVerifier", "VerifyResult", "extract_code"]
