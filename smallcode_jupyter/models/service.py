"""``smallcode serve``'s server: one loaded model shared by every kernel of the user, spoken to in
the OpenAI chat-completions dialect that llama.cpp's llama-server uses.

Each kernel loading its own copy of a model doubles memory and, worse, two processes generating
at once on the same cores thrash. Here one process holds the model; requests queue on its lock
(and on the machine-wide gate, so an in-process kernel and the service never generate together).
It listens on a Unix socket in a folder only the user can open (mode 0700, socket 0600), so no
other user of the machine reaches it; ``port`` adds a loopback TCP listener for other tools.

Endpoints: ``GET /v1/models``, ``GET /props``, ``GET /health``, ``POST /tokenize``,
``POST /v1/chat/completions`` (streamed or not; a final assistant message is continued, as in
llama-server; ``response_format`` with a JSON schema or ``grammar`` constrain the output; ``n``
samples with ``seeds`` are decoded together in one llama.cpp batch).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from .llm import LLM, Completion, Message

MAX_BODY = 16 * 2**20  # a chat request larger than this is refused


class BadRequest(ValueError):
    """A request the service cannot serve (HTTP 400)."""


def chat_args(body: dict[str, Any]) -> tuple[list[Message], str, dict[str, Any]]:
    """(messages, prefill, keyword arguments of ``LLM.chat``) from a chat-completions body."""
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise BadRequest("messages must be a non-empty list")
    messages: list[Message] = []
    for m in raw:
        if not isinstance(m, dict) or not isinstance(m.get("content", ""), str):
            raise BadRequest("each message needs a role and a text content")
        messages.append({"role": str(m.get("role", "user")), "content": str(m.get("content", ""))})
    prefill = ""
    if messages[-1]["role"] == "assistant":  # continue it (llama-server; vLLM's continue_final_message)
        prefill = messages.pop()["content"]
    stop = body.get("stop") or []
    kw: dict[str, Any] = {
        "max_tokens": int(body.get("max_tokens") or body.get("max_completion_tokens") or 512),
        "temperature": float(body.get("temperature", 0.0) or 0.0),
        "stop": [stop] if isinstance(stop, str) else [str(s) for s in stop],
    }
    fmt = body.get("response_format") or {}
    if body.get("grammar"):
        kw["grammar"] = str(body["grammar"])
    elif isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
        schema = (
            fmt.get("json_schema", {}).get("schema") if fmt["type"] == "json_schema" else fmt.get("schema")
        )
        if isinstance(schema, dict):
            kw["json_schema"] = schema
    return messages, prefill, kw


def usage_of(outs: list[Completion]) -> dict[str, int]:
    prompt = max((o.prompt_tokens for o in outs), default=0)
    done = sum(o.completion_tokens for o in outs)
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


class Shared:
    """What both listeners hold: the model and what they say about it."""

    llm: LLM
    name: str
    verbose: bool

    def model_entry(self) -> dict[str, Any]:
        info = self.llm.model.info
        params = self.llm.model.preset.params_b if self.llm.model.preset else info.params_b
        return {
            "id": self.name,
            "object": "model",
            "owned_by": "smallcode",
            "meta": {"n_params": int((params or 0) * 1e9), "n_ctx_train": info.context_length or 0},
        }

    def props(self) -> dict[str, Any]:
        m = self.llm.model
        return {
            "default_generation_settings": {"n_ctx": self.llm.n_ctx},
            "total_slots": 1,
            "model_path": str(m.path),
            "params_b": m.preset.params_b if m.preset else m.info.params_b,
            "n_threads": self.llm.n_threads,
            "smallcode": True,
        }


class Handler(BaseHTTPRequestHandler):
    """One request to the service; ``self.shared.llm`` is the shared model."""

    protocol_version = "HTTP/1.0"  # one request per connection: a stream ends when it closes

    @property
    def shared(self) -> Shared:
        return cast(Shared, self.server)

    def log_message(self, format: str, *args: Any) -> None:
        if self.shared.verbose:
            super().log_message(format, *args)

    def address_string(self) -> str:  # a Unix socket's client has no host
        return str(self.client_address[0]) if isinstance(self.client_address, tuple) else "local"

    def _send(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": {"message": message, "code": status}})

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("/health", "/v1/health"):
            self._send(200, {"status": "ok"})
        elif path in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [self.shared.model_entry()]})
        elif path == "/props":
            self._send(200, self.shared.props())
        else:
            self._error(404, f"no such endpoint: {path}")

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise BadRequest(f"request body over {MAX_BODY} bytes")
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            if path == "/tokenize":
                self._send(200, {"tokens": self.shared.llm.tokenize(str(body.get("content", "")))})
            elif path in ("/v1/chat/completions", "/chat/completions"):
                self.chat(body)
            else:
                self._error(404, f"no such endpoint: {path}")
        except (BadRequest, json.JSONDecodeError, ValueError, TypeError) as e:
            self._error(400, str(e))
        except Exception as e:  # the model failed (a prompt over the window): say so, keep serving
            self._error(500, f"{type(e).__name__}: {e}")

    def chat(self, body: dict[str, Any]) -> None:
        llm = self.shared.llm
        messages, prefill, kw = chat_args(body)
        name, created, rid = self.shared.name, int(time.time()), f"chatcmpl-{uuid.uuid4().hex[:12]}"
        n = int(body.get("n") or 1)
        if n > 1:  # samples of one prompt, decoded together
            seed = int(body.get("seed") or 1000)
            seeds = body.get("seeds") or [seed + i for i in range(n)]
            outs = llm.chat_batch(
                messages,
                n=n,
                prefill=prefill,
                max_tokens=kw["max_tokens"],
                temperature=kw["temperature"] or 0.8,
                seeds=[int(s) for s in seeds][:n],
                stop=kw["stop"],
            )
            choices = [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": o.text},
                    "finish_reason": o.finish_reason,
                    "usage": usage_of([o]),
                }
                for i, o in enumerate(outs)
            ]
            self._send(200, {"id": rid, "object": "chat.completion", "created": created, "model": name,
                             "choices": choices, "usage": usage_of(outs)})  # fmt: skip
            return
        if body.get("seed") is not None:
            kw["seed"] = int(body["seed"])
        if not body.get("stream"):
            out = llm.chat(messages, prefill=prefill, **kw)
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": out.text},
                "finish_reason": out.finish_reason,
            }
            self._send(200, {"id": rid, "object": "chat.completion", "created": created, "model": name,
                             "choices": [choice], "usage": usage_of([out])})  # fmt: skip
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        cancel = threading.Event()

        def event(
            delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None
        ) -> None:
            chunk: dict[str, Any] = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": name,
                                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
            if usage is not None:
                chunk["usage"] = usage
            try:
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            except OSError:  # the client went away: stop generating for it
                cancel.set()

        out = llm.chat(
            messages, prefill=prefill, on_token=lambda t: event({"content": t}), cancel=cancel, **kw
        )
        if not cancel.is_set():
            event({}, out.finish_reason, usage_of([out]))
            with contextlib.suppress(OSError):
                self.wfile.write(b"data: [DONE]\n\n")


class ServiceServer(Shared, ThreadingHTTPServer):
    """The service on a loopback TCP port (for other tools; any local user can connect)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], llm: LLM, verbose: bool = False) -> None:
        self.llm, self.verbose, self.name = llm, verbose, llm.name
        super().__init__(address, Handler)


class UnixServiceServer(Shared, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The service on a Unix socket only the user can open."""

    daemon_threads = True

    def __init__(self, path: Path, llm: LLM, verbose: bool = False) -> None:
        self.llm, self.verbose, self.name = llm, verbose, llm.name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path.parent, 0o700)
        if path.exists():
            if _answers(path):
                raise OSError(f"a smallcode service already listens on {path}")
            path.unlink()  # a stale socket from a service that died
        old = os.umask(0o177)
        try:
            super().__init__(str(path), Handler)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.path = path

    def server_close(self) -> None:
        super().server_close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def _answers(path: Path) -> bool:
    """Whether something accepts connections on the socket ``path``."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()
