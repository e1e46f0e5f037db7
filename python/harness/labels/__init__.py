"""Labels that need a model: Monte Carlo PRM step labels (`harness.labels.prm_mc`).

Kept apart from `harness.formats`, whose formatters are pure functions of an episode: these
labels run the rollout engine (continuations played by a backend in the environment).
"""
