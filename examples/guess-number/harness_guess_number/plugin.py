"""The plugin's hook implementations: what it registers with the harness."""

from harness.plugins import hookimpl
from harness_guess_number.environment import GuessNumber
from harness_guess_number.formatter import WonTranscripts


@hookimpl
def register_environments(register):
    register(GuessNumber)


@hookimpl
def register_formatters(register):
    register(WonTranscripts)
