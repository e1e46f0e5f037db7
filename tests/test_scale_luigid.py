"""Scale-out on Luigi's central scheduler, on loopback: a real `luigid` and two `luigi` worker
processes on one run of several shards (the scripted backend, slowed down per turn so the work
really overlaps). Every shard runs exactly once, on one of the two workers; kill -9 of a worker
in the middle of a shard, and a rerun, give the same files as a run nobody killed."""

from __future__ import annotations

import configparser
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from harness.backends.scripted import ScriptedBackend
from harness.engine import RolloutConfig
from harness.engine.config import content_settings

REPO = Path(__file__).resolve().parent.parent
NUM_SHARDS = 4
EPISODES_PER_SHARD = 3
# two turns of every episode wait DELAY seconds: a shard takes about 2.4 s, 10 s for one worker
DELAY = 0.4
BACKEND_ARGS = {"responses": ["no guess", "still none"], "delay_seconds": DELAY}
# a killed worker's shard goes back to the others once the scheduler has not heard from it for
# DISCONNECT seconds (60 in the shipped luigi.cfg; see docs/scale.md)
DISCONNECT = 3
LUIGID_CFG = f"""[scheduler]
worker_disconnect_delay = {DISCONNECT}
retry_delay = 0
prune_on_get_work = true
"""
TIMEOUT = 180  # seconds any one wait may take on a loaded machine before the test gives up


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Luigid:
    """`luigid` on 127.0.0.1 and a free port, its state file and log in `home`."""

    def __init__(self, home: Path, config: Path | None = None) -> None:
        home.mkdir()
        if config is None:
            config = home / "luigi.cfg"
            config.write_text(LUIGID_CFG)
        self.port = free_port()
        self.log = home / "luigid.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).with_name("luigid")), "--address", "127.0.0.1",
                 "--port", str(self.port), "--state-path", str(home / "state.pickle")],
                cwd=home, env={**os.environ, "LUIGI_CONFIG_PATH": str(config)},
                stdout=log, stderr=subprocess.STDOUT)
        poll(lambda: self.answers(), "luigid to answer", self)

    def answers(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            self.api("task_list", status="DONE")
            return True
        except OSError:
            return False

    def api(self, method: str, **args: object) -> object:
        query = urllib.parse.urlencode({"data": json.dumps(args)})
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/{method}?{query}", timeout=10) as r:
            return json.load(r)["response"]

    def tasks(self, status: str) -> dict[str, dict]:
        return self.api("task_list", status=status, upstream_status="", search="")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def poll(condition, what: str, *context) -> object:
    """Wait for `condition()` to be true (no fixed sleeps: the machine may be slow)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {context}")


@pytest.fixture
def luigids(tmp_path):
    """Start a fresh `luigid` per call: a run's task ids do not include --data-dir, so two runs
    of the same settings on one scheduler would be one run to it."""
    started: list[Luigid] = []

    def start(name: str, config: Path | None = None) -> Luigid:
        started.append(Luigid(tmp_path / name, config))
        return started[-1]

    try:
        yield start
    finally:
        for server in started:
            server.stop()


class Worker:
    """`luigi --module luigi_tasks.rollouts GenerateRollouts … --workers 1` against the luigid,
    as each node runs it; `--no-lock` because both run on this one machine (see docs/scale.md)."""

    def __init__(self, luigid: Luigid, cwd: Path, data_dir: str, log: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "luigi", "--module", "luigi_tasks.rollouts", "GenerateRollouts",
                 "--env", "connections", "--backend", "scripted", "--backend-args", json.dumps(BACKEND_ARGS),
                 "--limit", str(NUM_SHARDS * EPISODES_PER_SHARD), "--num-shards", str(NUM_SHARDS),
                 "--max-turns", "2", "--concurrency", "1", "--chunk-size", "1", "--data-dir", data_dir,
                 "--scheduler-host", "127.0.0.1", "--scheduler-port", str(luigid.port),
                 "--workers", "1", "--no-lock"],
                cwd=cwd, stdout=out, stderr=subprocess.STDOUT)

    @property
    def name(self) -> str:
        return f"pid={self.process.pid})"  # how the scheduler's worker ids end

    def wait(self) -> int:
        return self.process.wait(timeout=TIMEOUT)

    def output(self) -> str:
        return self.log.read_text()


def run_dir(cwd: Path, data_dir: str) -> Path:
    [out] = (cwd / data_dir / "rollouts").iterdir()
    return out


def shards(out: Path) -> dict[int, list[dict]]:
    return {i: [json.loads(line) for line in (out / f"shard-0000{i}-of-0000{NUM_SHARDS}.jsonl").open()]
            for i in range(NUM_SHARDS)}


def without_provenance(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "provenance"} for r in records]


def shard_tasks(luigid: Luigid, status: str) -> dict[int, dict]:
    return {int(t["params"]["shard_index"]): t for t in luigid.tasks(status).values()
            if t["name"] == "GenerateRolloutShard"}


def finished_by_others(worker: Worker) -> None:
    """A worker's exit status counts only what it ran: 10 or 25 when others ran the rest (see
    docs/scale.md), never a failure (30) or a scheduling error (35)."""
    assert worker.wait() in (0, 10, 25), worker.output()[-5000:]


def check_complete(luigid: Luigid, cwd: Path, data_dir: str) -> None:
    """One more run of the same command exits 0 at once, running nothing: the run is complete."""
    check = Worker(luigid, cwd, data_dir, cwd / f"{data_dir}-check.log")
    assert check.wait() == 0, check.output()[-5000:]
    assert " running   " not in check.output()


def test_two_workers_share_the_shards_and_a_killed_one_is_finished_by_a_rerun(tmp_path, luigids):
    # -- two workers, nobody killed: each shard runs once, on one of them ---------------------
    luigid = luigids("luigid-clean")
    workers = [Worker(luigid, tmp_path, "clean", tmp_path / f"clean-{i}.log") for i in range(2)]
    for w in workers:
        finished_by_others(w)
    logs = "\n".join(w.output() for w in workers)
    check_complete(luigid, tmp_path, "clean")
    done = shard_tasks(luigid, "DONE")
    assert sorted(done) == list(range(NUM_SHARDS)), luigid.tasks("")
    ran_on = {i: t["worker_running"] for i, t in done.items()}
    assert {next(w.name for w in workers if run.endswith(w.name)) for run in ran_on.values()} == {
        w.name for w in workers}, f"one worker ran every shard: {ran_on}"
    started = [line for line in logs.splitlines() if " running   GenerateRolloutShard(" in line]
    assert Counter(line.rsplit("shard_index=", 1)[1] for line in started) == {
        f"{i})": 1 for i in range(NUM_SHARDS)}
    clean = run_dir(tmp_path, "clean")
    records = shards(clean)
    assert Counter((r["task"]["id"], r["sample_index"]) for rs in records.values() for r in rs) == {
        (r["task"]["id"], 0): 1 for rs in records.values() for r in rs}
    assert sum(len(rs) for rs in records.values()) == NUM_SHARDS * EPISODES_PER_SHARD
    for i, rs in records.items():
        manifest = json.loads((clean / f"shard-0000{i}-of-0000{NUM_SHARDS}.manifest.json").read_text())
        assert {r["provenance"]["run_id"] for r in rs} == {manifest["provenance"]["last_run_id"]}
        assert all(len(r["steps"]) == 2 and r["outcome"]["reason"] == "max_turns_reached" for r in rs)
        # what a person watching the scheduler (the visualiser) sees once the shard is done
        assert done[i]["status_message"] == (
            f"{clean}/shard-0000{i}-of-0000{NUM_SHARDS}.jsonl: {EPISODES_PER_SHARD} episodes, "
            "0 failed, 0 succeeded, 0 completion tokens")
        assert done[i]["progress_percentage"] == 100
    [run_task] = [t for t in luigid.tasks("DONE").values() if t["name"] == "GenerateRollouts"]
    assert run_task["status_message"].startswith(f"{NUM_SHARDS * EPISODES_PER_SHARD} episodes in "
                                                 f"{NUM_SHARDS} shards (0 failed, 0 succeeded; ")
    assert run_task["status_message"].endswith(f"-> {clean}")

    # -- the same run elsewhere; kill -9 a worker once its shard has committed an episode ------
    luigid = luigids("luigid-killed")
    workers = [Worker(luigid, tmp_path, "killed", tmp_path / f"killed-{i}.log") for i in range(2)]

    def a_shard_half_done():
        for i, task in shard_tasks(luigid, "RUNNING").items():
            chunks = list(tmp_path.glob(f"killed/rollouts/*/shard-0000{i}-of-*.chunks/chunk-*.jsonl"))
            holder = [w for w in workers if (task["worker_running"] or "").endswith(w.name)]
            if chunks and holder:
                return i, holder[0]
        return None

    killed_shard, victim = poll(a_shard_half_done, "a running shard with a committed episode",
                                *(w.log for w in workers))
    victim.process.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL
    [survivor] = [w for w in workers if w is not victim]
    finished_by_others(survivor)
    # the scheduler gives the killed worker's shard to others once it has not heard from it for
    # worker_disconnect_delay seconds: wait for that, as a user reruns after a node died
    victim_id = victim.name

    def victim_silent() -> bool:
        me = [w for w in luigid.api("worker_list") if w["name"].endswith(victim_id)]
        return not me or time.time() - me[0]["last_active"] > DISCONNECT + 0.5

    poll(victim_silent, "the scheduler to stop hearing from the killed worker")
    rerun = Worker(luigid, tmp_path, "killed", tmp_path / "rerun.log")
    finished_by_others(rerun)
    check_complete(luigid, tmp_path, "killed")

    resumed = run_dir(tmp_path, "killed")
    assert resumed.name == clean.name
    again = shards(resumed)
    for i in range(NUM_SHARDS):
        assert [r["episode_id"] for r in again[i]] == [r["episode_id"] for r in records[i]]
        assert without_provenance(again[i]) == without_provenance(records[i])
    # the killed shard was resumed, not redone: its first episodes are the killed run's
    assert len({r["provenance"]["run_id"] for r in again[killed_shard]}) == 2
    for name in ("manifest.json", "settings.json"):
        assert (resumed / name).read_bytes() == (clean / name).read_bytes()
    assert not list(resumed.glob("*.chunks")) and not list(resumed.glob("*.tmp"))


def test_the_delay_changes_no_content():
    config = RolloutConfig(env="connections", backend="scripted",
                           backend_args={"responses": ["a"], "delay_seconds": 2.5})
    assert content_settings(config, ScriptedBackend) == content_settings(
        RolloutConfig(env="connections", backend="scripted", backend_args={"responses": ["a"]}), ScriptedBackend)
    for bad in (-1, float("nan")):
        with pytest.raises(ValueError, match="delay_seconds must be >= 0"):
            ScriptedBackend(responses=["a"], delay_seconds=bad)


def test_luigid_counts_the_gpus_of_the_shipped_luigi_cfg(luigids):
    # resources are the scheduler's: luigid reads [resources] from its own configuration
    luigid = luigids("luigid-shipped", REPO / "luigi.cfg")
    assert luigid.api("resource_list") == [{"name": "gpu", "num_total": 1, "num_used": 0,
                                             "num_consumer": 0, "running": {}}]


def test_the_guide_shows_the_shipped_scheduler_settings():
    guide = (REPO / "docs" / "scale.md").read_text()
    [block] = re.findall(r"The shipped values:\n\n```ini\n(.*?)```", guide, re.S)
    shown = configparser.ConfigParser(inline_comment_prefixes=("#",))
    shown.read_string(block)
    shipped = configparser.ConfigParser()
    shipped.read(REPO / "luigi.cfg")
    for section in ("scheduler", "resources"):
        assert dict(shown[section]) == dict(shipped[section]), section
