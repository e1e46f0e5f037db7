"""The plugin's hook implementations: what it registers with the harness."""

from harness.plugins import hookimpl

from harness_guess_number.environment import GuessNumber


@hookimpl
def register_environments(register):
    register(GuessNumber)
