"""Luigi tasks: thin parameter holders over library functions, one module per pipeline stage.

Run one with `luigi --module luigi_tasks.<module> <Task> --local-scheduler`, or against a
central `luigid` so several nodes share the work.
"""
