"""The game-rules verifier: replays a Connections episode record under the rules.

A record is trusted only as far as the rules reproduce it. The verifier rebuilds the game from
the record's own task data (categories, resumed history) and seed (a doctored record: with the
kept turns of its prompt replayed, `Environment.resume`), steps every recorded action,
and compares each step's status, reward and end with what was recorded, then the final reward:

- `pass`: the rules give exactly the recorded game, and it was won;
- `fail`: the record is faithful but the game was lost, or the record disagrees with the rules
  (a bug, or an edited file), with the first disagreement in `details["mismatch"]`.

It is a `harness.verify.Verifier` (`harness verify --verifier connections-rules`): `verify(episode)`
returns the verdict, and raises `NotApplicable` for an episode of another environment.
`verify_episode(record)` takes a record or an episode and also fires `verdict_made` (the verify
stage fires it for the verdicts it makes).
"""

from __future__ import annotations

import json
from typing import Any

from harness import plugins
from harness.environment import EnvError
from harness.episode import Episode, Verdict, validate_episode
from harness.verify import NotApplicable, Verifier
from harness_connections.environment import ConnectionsEnv


class RulesVerifier(Verifier):
    name = "connections-rules"
    version = "1"

    def __init__(self) -> None:
        self._envs: dict[str, ConnectionsEnv] = {}

    def _env(self, args: dict[str, Any]) -> ConnectionsEnv:
        # Only the rules matter here (the task carries its own puzzle): no puzzle file is read.
        rules = {k: args[k] for k in ("max_mistakes", "max_turns") if k in args}
        key = json.dumps(rules, sort_keys=True)
        if key not in self._envs:
            self._envs[key] = ConnectionsEnv(count=1, **rules)
        return self._envs[key]

    def verify(self, episode: Episode) -> Verdict:
        if episode.env.name != ConnectionsEnv.name:
            raise NotApplicable(f"{self.name}: not a Connections episode (env {episode.env.name!r})")
        return self._judge(episode)

    def verify_episode(self, record: dict[str, Any] | Episode) -> Verdict:
        """`verify` of a record (or an episode), firing `verdict_made`."""
        episode = record if isinstance(record, Episode) else validate_episode(record)
        verdict = self.verify(episode)
        plugins.registry().hook.verdict_made(
            verdict=verdict.model_dump(mode="json"),
            subject={"verifier": self.name, "episode_id": episode.episode_id},
        )
        return verdict

    def _judge(self, episode: Episode) -> Verdict:
        try:  # a doctored episode starts after its parent's kept turns: replay them first
            session = self._env(episode.env.args).resume(episode)
        except EnvError as exc:
            return self._fail(f"the kept turns do not replay: {exc}")
        for index, recorded in enumerate(episode.steps):
            if session.done:
                return self._fail(f"step {index}: the game had already ended")
            replayed = session.step(recorded.action)
            for field in ("label", "valid"):
                want, got = getattr(recorded.status, field), getattr(replayed.status, field)
                if want != got:
                    return self._fail(f"step {index}: status.{field} is {want!r}, the rules give {got!r}")
            if (recorded.reward, recorded.done) != (replayed.reward, replayed.done):
                return self._fail(
                    f"step {index}: reward/done is {recorded.reward!r}/{recorded.done!r}, "
                    f"the rules give {replayed.reward!r}/{replayed.done!r}"
                )
        if not session.done and episode.outcome.reason:
            session.end(episode.outcome.reason)  # ended from outside: prompt too long, turn cap
        summary = session.summary()
        if summary.reward != episode.reward:
            return self._fail(f"reward is {episode.reward!r}, the rules give {summary.reward!r}")
        won = summary.outcome.reason == "all_categories_found"
        return self.verdict("pass" if won else "fail", score=1.0 if won else 0.0,
                            details={"complete_reason": summary.outcome.reason})

    def _fail(self, mismatch: str) -> Verdict:
        return self.verdict("fail", score=0.0, details={"mismatch": mismatch})
