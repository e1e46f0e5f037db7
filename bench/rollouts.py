#!/usr/bin/env python3
"""Rollout engine benchmark: what the engine costs over its backends, measured side by side.

1. Engine overhead on CPU. The same prompts, the same sampler seeds (so the very same tokens are
   generated), the embedded SmolLM2-135M: the raw transformers backend called directly in batches
   of `--batch`, against the engine running a no-op single-turn environment with the same backend
   and `--batch` live episodes, writing and committing its shard. Overhead = engine / raw - 1.
   As that difference is within the noise of a shared machine, the engine's own time is also
   measured alone: the same run with the scripted backend (the raw backend's texts, replayed at
   no cost), an upper bound of what the engine adds, as a share of the raw backend's time.
2. The openai backend against the llama.cpp server's own throughput. The same requests at the
   same concurrency: plain HTTP requests from threads (the server's throughput), the openai
   backend's `generate`, and the engine with the openai backend and the no-op environment.

Each variant runs `--repeats` times, interleaved, and its best time counts (the machine is
shared, so the best run is the least disturbed one). Run with the project's interpreter:

    .venv/bin/python bench/rollouts.py                 # the figures in docs/benchmarks.md
    .venv/bin/python bench/rollouts.py --quick         # a smoke run

This is a benchmark, not a test: it prints figures and exits 0 whatever they are.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.backends.base import Request
from harness.backends.openai_backend import OpenAIBackend
from harness.backends.scripted import ScriptedBackend
from harness.backends.transformers_backend import TransformersBackend
from harness.embedded_model import embedded_model
from harness.engine import RolloutConfig, agenerate_shard
from harness.engine.config import plan
from harness.environment import Environment, Session, Summary
from harness.episode import Message, Outcome, Step, Task

REPO = Path(__file__).resolve().parent.parent
TOPICS = ["the sea", "a city at night", "bread", "mountains", "a library", "rain", "trains", "music",
          "gardens", "the moon", "coffee", "bridges", "winter", "a market", "birds", "clocks"]


class NoOpSession(Session):
    def transition(self, action: str) -> Step:
        return Step(action=action, done=True)

    def summary(self) -> Summary:
        return Summary(reward=None, outcome=Outcome(done=self.done, reason="answered"))

    def state(self) -> dict[str, Any]:
        return {}


class NoOpEnv(Environment):
    """One prompt, one model turn, done: all the time goes to the backend and the engine."""

    name = "noop-single-turn"
    version = "1"

    def splits(self) -> list[str]:
        return ["test"]

    def tasks(self, split: str | None = None):
        for i in range(self.args["n"]):
            yield Task(
                id=i, split="test", data={"prompt": f"Write two sentences about {TOPICS[i % len(TOPICS)]}. ({i})"}
            )

    def new_session(self, task: Task, seed: int) -> NoOpSession:
        session = NoOpSession(self, task, seed)
        session.prompt = [Message(role="user", content=task.data["prompt"])]
        return session


def requests_for(env: NoOpEnv, config: RolloutConfig, model_name: str) -> list[Request]:
    """The engine's own first-turn requests (same prompts, same sampler seeds)."""
    return [Request([Message(role="user", content=item.task.data["prompt"])],
                    config.sampling(seed=item.sampler_seed, n=1))
            for item in plan(env, config, model_name)]


async def engine_run(env: NoOpEnv, config: RolloutConfig, backend, concurrency: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        manifest = await agenerate_shard(config, out, backend=backend, env=env, concurrency=concurrency,
                                         progress=False)
        return time.perf_counter() - start, manifest["counts"]["completion_tokens"]


async def backend_run(
    backend, requests: list[Request], batch: int, texts: list[str] | None = None
) -> tuple[float, int]:
    start = time.perf_counter()
    tokens = 0
    for i in range(0, len(requests), batch):
        out = await backend.generate(requests[i:i + batch])
        tokens += sum(c[0].completion_tokens or 0 for c in out)
        if texts is not None:
            texts += [c[0].text for c in out]
    return time.perf_counter() - start, tokens


def http_run(base_url: str, model: str, requests: list[Request], concurrency: int) -> tuple[float, int]:
    def one(request: Request) -> int:
        body = OpenAIBackend(model, base_url=base_url).request_body(request)
        body.pop("extra_body", None)
        data = json.dumps(body).encode()
        http = urllib.request.Request(f"{base_url}/chat/completions", data=data,
                                      headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(http, timeout=600) as response:
            return json.loads(response.read())["usage"]["completion_tokens"]

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        tokens = sum(pool.map(one, requests))
    return time.perf_counter() - start, tokens


def best(results: list[tuple[float, int]]) -> dict[str, Any]:
    seconds, tokens = min(results)
    return {"seconds": round(seconds, 3), "tokens": tokens, "tokens_per_s": round(tokens / seconds, 2),
            "all_seconds": [round(s, 3) for s, _ in results]}


def bench_engine_overhead(n: int, batch: int, max_tokens: int, repeats: int) -> dict[str, Any]:
    backend = TransformersBackend(max_batch=batch)
    env = NoOpEnv(n=n)
    config = RolloutConfig(env=env.name, backend="transformers", max_tokens=max_tokens, temperature=0.7,
                           top_p=0.95, max_turns=1)
    requests = requests_for(env, config, backend.model_name)
    raw, engine, alone = [], [], []
    texts: list[str] = []

    async def go() -> None:
        # warm-up: the model's first-call allocations, the plugin registry's first load
        await backend_run(backend, requests[:batch], batch)
        await engine_run(NoOpEnv(n=2), config, backend, concurrency=batch)
        for repeat in range(repeats):
            # alternate which goes first, so a drift in the machine's load favours neither
            if repeat % 2:
                engine.append(await engine_run(env, config, backend, concurrency=batch))
            raw.append(await backend_run(backend, requests, batch, texts if repeat == 0 else None))
            if not repeat % 2:
                engine.append(await engine_run(env, config, backend, concurrency=batch))
            # every prompt gets a real completion of the raw run, replayed
            replay = ScriptedBackend(responses=[max(texts, key=len)])
            alone.append(await engine_run(env, config, replay, concurrency=batch))

    asyncio.run(go())
    result = {"raw_backend": best(raw), "engine": best(engine)}
    assert raw[0][1] == engine[0][1], "the engine generated other tokens than the raw backend"
    result["overhead_percent"] = round(100 * (result["engine"]["seconds"] / result["raw_backend"]["seconds"] - 1), 2)
    result["engine_alone_seconds"] = round(min(alone)[0], 4)
    result["engine_alone_percent_of_raw"] = round(100 * min(alone)[0] / result["raw_backend"]["seconds"], 2)
    return result


def start_server(model: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "bench",
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2",
         "--verbose", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            try:
                process.wait(timeout=0.5)
                raise RuntimeError(f"llama.cpp server exited with {process.returncode}")
            except subprocess.TimeoutExpired:
                pass
    process.kill()
    raise RuntimeError("llama.cpp server did not start")


def bench_openai(n: int, concurrency: int, max_tokens: int, repeats: int) -> dict[str, Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    server = start_server(embedded_model(), port)
    try:
        env = NoOpEnv(n=n)
        config = RolloutConfig(env=env.name, backend="openai", model="bench", max_tokens=max_tokens,
                               temperature=0.7, top_p=0.95, max_turns=1)
        requests = requests_for(env, config, "bench")
        raw, backend_results, engine = [], [], []
        http_run(base_url, "bench", requests[:concurrency], concurrency)  # warm-up
        for _ in range(repeats):
            raw.append(http_run(base_url, "bench", requests, concurrency))

            async def through_backend() -> None:
                backend = OpenAIBackend("bench", base_url=base_url, concurrency=concurrency)
                backend_results.append(await backend_run(backend, requests, len(requests)))
                engine.append(await engine_run(env, config, backend, concurrency=len(requests)))
                await backend.aclose()

            asyncio.run(through_backend())
        result = {"server_http": best(raw), "openai_backend": best(backend_results), "engine_openai": best(engine)}
        server_rate = result["server_http"]["tokens_per_s"]
        result["backend_vs_server_percent"] = round(100 * result["openai_backend"]["tokens_per_s"] / server_rate, 1)
        result["engine_vs_server_percent"] = round(100 * result["engine_openai"]["tokens_per_s"] / server_rate, 1)
        return result
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few prompts, one repeat")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16, help="transformers batch = live episodes")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight to the server")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.repeats, args.max_tokens = 8, 1, 8
    figures = {
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count(),
                    "platform": platform.platform()},
        "settings": {"prompts": args.prompts, "batch": args.batch, "concurrency": args.concurrency,
                     "max_tokens": args.max_tokens, "repeats": args.repeats},
        "engine_overhead": bench_engine_overhead(args.prompts, args.batch, args.max_tokens, args.repeats),
        "openai": bench_openai(args.prompts, args.concurrency, args.max_tokens, args.repeats),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
