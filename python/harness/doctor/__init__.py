"""Doctoring: repairing bad rollouts by cutting them back to their last state worth continuing,
replaying that state into a fresh session and letting a model continue (docs/doctoring.md).

- `salvage`: the environment API's doctoring protocol defaults (any environment gets them);
- `index`: per-file indexes of rollout files (key, facts, byte offset), kept and reused;
- `select`: the best rollout per task in seed 001's order;
- `stage`: the doctor stage over episode files (`harness doctor`, Luigi `DoctorRollouts`);
- `results`, `loop`: seed 001's results files and its iterative loop (`harness doctor loop`);
- `reduce`, `collate`, `stats`, `pipeline`: token reduction, the final rows, the per-loop
  statistics, and the whole seed 001 pipeline;
- `tokens`: what counts tokens.

Modules are imported by name (`from harness.doctor.stage import doctor_files`): importing this
package loads nothing else.
"""
