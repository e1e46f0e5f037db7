"""RLVR on HumanEval and MBPP: dataset preparation (`prepare`), the unbiased pass@k estimator
(`passk`) and the pass@k benchmark across checkpoints (`benchmark`). See docs/rlvr.md."""

from harness.rlvr.passk import mean_pass_at_k, pass_at_k

__all__ = ["mean_pass_at_k", "pass_at_k"]
