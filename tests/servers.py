"""Real servers for the backend tests: llama.cpp's OpenAI-compatible server, and a proxy that
injects faults in front of it.

`LlamaServer` runs `python -m llama_cpp.server` on 127.0.0.1 with the embedded SmolLM2 GGUF and
waits until it answers. `FaultProxy` forwards requests to it, except that each request first takes
the next fault of its plan: `429` and `500` (an error status), `timeout` (the proxy holds the
request without answering until the client gives up), `reset` (the connection is closed with a
TCP reset), `malformed` (status 200 with a body cut off mid-JSON), `no_choices` (status 200 with a
well-formed completion that has no choices), `bad_usage` (status 200 with a completion whose
`usage` counts are a string and a float), `trickle` (status 200 with a well-formed completion
sent a byte every 50 ms: about 12 s in all, so a client that times out each read but not the
whole request accepts it). It counts the requests it saw and the most it
had in flight at once.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODEL_ALIAS = "smollm2-gguf"
FAULTS = ("429", "500", "timeout", "reset", "malformed", "no_choices", "bad_usage", "trickle")


def completion_body(text: str, usage: dict[str, object]) -> bytes:
    return json.dumps({
        "id": "x", "object": "chat.completion", "created": 0, "model": MODEL_ALIAS,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": usage,
    }).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    def __init__(self, model: Path, log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log = open(log, "wb")  # noqa: SIM115 - the server's log, closed when it stops
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
             "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(self.port),
             "--n_ctx", "4096", "--n_threads", "2", "--verbose", "false"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, limit: float = 300.0) -> None:
        """Poll /v1/models until the server answers (or fail naming its log)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {self.process.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            # wait for the process to change state rather than spinning
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=0.5)
        raise RuntimeError(f"llama.cpp server did not answer within {limit} s; see {self.log.name}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a reset or a client that gave up is the point of the fault, not an error


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        """`upstream` is the server's base URL, e.g. http://127.0.0.1:8000/v1."""
        self.upstream = upstream.rstrip("/").removesuffix("/v1")
        self.plan: deque[str | None] = deque()
        self.lock = threading.Lock()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.faults_served: list[str] = []
        self.release = threading.Event()  # set at shutdown: held ("timeout") requests let go
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy._forward(self, None)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    proxy.requests += 1
                    fault = proxy.plan.popleft() if proxy.plan else None
                    if fault:
                        proxy.faults_served.append(fault)
                proxy._serve(self, fault, body)

        self.server = _QuietServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def inject(self, *faults: str | None) -> None:
        """Queue faults for the next requests, in order (None: forward normally)."""
        for fault in faults:
            if fault is not None and fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        with self.lock:
            self.plan.extend(faults)

    def _serve(self, handler: BaseHTTPRequestHandler, fault: str | None, body: bytes) -> None:
        if fault in ("429", "500"):
            payload = json.dumps({"error": {"message": f"injected {fault}", "type": "injected"}}).encode()
            handler.send_response(int(fault))
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            if fault == "429":
                handler.send_header("Retry-After", "0")
            handler.end_headers()
            handler.wfile.write(payload)
        elif fault == "timeout":
            self.release.wait(120)  # until the client gave up and the test ends
            handler.close_connection = True
        elif fault == "reset":
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.close_connection = True
            handler.connection.close()
        elif fault in ("malformed", "no_choices", "bad_usage"):
            payload = {
                "malformed": b'{"id": "x", "object": "chat.completion", "choices": [{"index": 0, "mess',
                "no_choices": b'{"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}',
                "bad_usage": completion_body("word", {"prompt_tokens": "12", "completion_tokens": 1.5,
                                                      "total_tokens": None}),
            }[fault]
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        elif fault == "trickle":
            payload = completion_body("trickled", {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2})
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.flush()
            for i in range(len(payload)):
                if self.release.wait(0.05):  # the test ended
                    break
                try:
                    handler.wfile.write(payload[i:i + 1])
                    handler.wfile.flush()
                except OSError:  # the client gave up
                    break
            handler.close_connection = True
        else:
            self._forward(handler, body)

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            host, port = self.upstream.removeprefix("http://").split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=600)
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(handler.command, handler.path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            conn.close()
        finally:
            with self.lock:
                self.in_flight -= 1
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.getheader("Content-Type") or "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
