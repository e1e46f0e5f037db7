"""The harness's own formatters, registered exactly as a third-party plugin would register its
(entry point `formatters = "harness.formats.plugin"` in the `harness` group)."""

from __future__ import annotations

from harness.formats.data_analysis import Prm, SftInterleaved, SftStandard
from harness.formats.rl_tokens import RlTokens
from harness.formats.search import SearchMultiturn, SearchSplits
from harness.formats.student_code import StudentCode
from harness.formats.trainers import OpenAIFinetune, TrlMessages, TrlPromptCompletion, Verl
from harness.plugins import hookimpl

FORMATTERS = (
    SftStandard, SftInterleaved, Prm,
    SearchSplits, SearchMultiturn,
    StudentCode,
    TrlMessages, TrlPromptCompletion, OpenAIFinetune, Verl, RlTokens,
)


@hookimpl
def register_formatters(register):
    for formatter in FORMATTERS:
        register(formatter)
