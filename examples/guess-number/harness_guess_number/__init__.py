"""Example third-party plugin for rollout-harness."""
