"""A scripted OpenAI-compatible server on loopback, for fast tests of the server backend.

It speaks the dialects the backend tells apart (llama-server's /props, Ollama's /api/*, vLLM's
max_model_len) and can misbehave on purpose: refuse a key, hang, send a malformed or truncated
stream, ignore stop strings. The real server (llama-cpp-python's) is in test_server_real.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    """What the server does; tests change it between requests."""

    kind: str = "llama-server"  # or "ollama", "vllm", "openai"
    models: list[str] = field(default_factory=lambda: ["coder-1.5b"])
    n_ctx: int = 8192
    slots: int = 2
    key: str = ""  # required bearer token ('' : none)
    reply: Callable[[dict[str, Any]], str] = lambda body: "def f():\n    return 1\n```"
    stream: str = "ok"  # "ok", "malformed", "truncated", "hang", "ignore-stop"
    delay: float = 0.0  # seconds per chunk
    requests: list[dict[str, Any]] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def script(self) -> Script:
        return self.server.script

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if self.script.key and self.headers.get("Authorization") != f"Bearer {self.script.key}":
            self._json(401, {"error": {"message": "invalid api key"}})
            return False
        return True

    def do_GET(self) -> None:
        s = self.script
        if not self._authorised():
            return
        if self.path == "/v1/models":
            entries: list[dict[str, Any]] = []
            for m in s.models:
                e: dict[str, Any] = {"id": m, "object": "model", "owned_by": "library"}
                if s.kind == "llama-server":
                    e["meta"] = {"n_params": 1_540_000_000, "n_ctx_train": 32768}
                if s.kind == "vllm":
                    e.update(owned_by="vllm", max_model_len=s.n_ctx)
                entries.append(e)
            self._json(200, {"object": "list", "data": entries})
        elif self.path == "/props" and s.kind == "llama-server":
            self._json(200, {"default_generation_settings": {"n_ctx": s.n_ctx}, "total_slots": s.slots})
        elif self.path == "/api/version" and s.kind == "ollama":
            self._json(200, {"version": "0.9.0"})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        s = self.script
        if not self._authorised():
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path == "/tokenize" and s.kind == "llama-server":
            self._json(200, {"tokens": list(range(len(body["content"].split())))})
            return
        if self.path == "/api/show" and s.kind == "ollama":
            info = {
                "general.architecture": "qwen2",
                "qwen2.context_length": 32768,
                "general.parameter_count": 7.6e9,
            }
            self._json(200, {"model_info": info, "details": {"parameter_size": "7.6B"}})
            return
        if self.path != "/v1/chat/completions":
            self._json(404, {"error": {"message": "not found"}})
            return
        if body.get("model") not in s.models:
            self._json(404, {"error": {"message": f"model {body.get('model')!r} not found"}})
            return
        with s.lock:
            s.requests.append(body)
            s.active += 1
            s.max_active = max(s.max_active, s.active)
        try:
            self._chat(body)
        finally:
            with s.lock:
                s.active -= 1

    def _chat(self, body: dict[str, Any]) -> None:
        s = self.script
        text = s.reply(body)
        stops = body.get("stop") or []
        if s.stream != "ignore-stop":
            cuts = [i for st in stops if (i := text.find(st)) >= 0]
            text = text[: min(cuts)] if cuts else text
        if s.stream == "hang":
            time.sleep(5)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
        if s.stream == "truncated":
            pieces = pieces[: len(pieces) // 2]
        for p in pieces:
            chunk = {"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            time.sleep(s.delay)
        if s.stream == "malformed":
            self.wfile.write(b"data: {not json\n\n")
            return
        if s.stream == "truncated":
            return
        end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script) -> None:
        self.script = script
        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
