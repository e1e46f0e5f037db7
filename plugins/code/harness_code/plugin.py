"""Registrations of the `code` plugin: the humaneval, mbpp and pytest verifiers and the `code`
environment."""

from __future__ import annotations

from harness.plugins import hookimpl
from harness_code.verifiers import HumanEvalVerifier, MBPPVerifier, PytestVerifier


@hookimpl
def register_verifiers(register):
    register(HumanEvalVerifier)
    register(MBPPVerifier)
    register(PytestVerifier)


@hookimpl
def register_environments(register):
    from harness_code.environment import CodeEnvironment

    register(CodeEnvironment)
