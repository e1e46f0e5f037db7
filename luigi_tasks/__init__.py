"""Luigi tasks: thin parameter holders over library functions, one module per pipeline stage.

Run one with `luigi --module luigi_tasks.<module> <Task> --local-scheduler`, or against a
central `luigid` so several nodes share the work.

Luigi's own `luigi` command exits 0 even when a task failed. Importing this package gives it
the exit statuses of `RETCODES` instead, from whatever directory it runs, unless the user's
Luigi configuration (a `luigi.cfg` in the working directory, /etc/luigi/luigi.cfg,
`LUIGI_CONFIG_PATH`) or the command line (`--retcode-task-failed N`) sets its own. The
repository's `luigi.cfg` holds the same values, for users who run `luigi` from its root.
"""

from __future__ import annotations

import luigi.configuration

# Luigi's documented recommendation: the worse the outcome, the higher the status.
RETCODES = {
    "already_running": 10,  # another worker holds the task's lock
    "missing_data": 20,  # an external input (an ExternalTask's target) does not exist
    "not_run": 25,  # the scheduler did not let the task run
    "task_failed": 30,  # a task's run() raised
    "scheduling_error": 35,  # a task's requires() or complete() raised
    "unhandled_exception": 40,  # Luigi itself failed
}


def apply_retcode_defaults() -> None:
    """Sets every `[retcode]` option the loaded Luigi configuration leaves unset."""
    config = luigi.configuration.get_config()
    for option, code in RETCODES.items():
        if not config.has_option("retcode", option):
            config.set("retcode", option, str(code))


apply_retcode_defaults()
