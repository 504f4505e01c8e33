"""``smallcode serve``'s server with a scripted model: its socket is the user's alone, it speaks
llama-server's dialect (prefill, schema, tokenize, props), batches a prompt's samples, and the
backend finds it with ``--model serve``. The real model behind it is in test_server_real.py."""

from __future__ import annotations

import stat
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from smallcode_jupyter.models.http import ServerError
from smallcode_jupyter.models.llm import Completion
from smallcode_jupyter.models.remote import connect
from smallcode_jupyter.models.service import UnixServiceServer


class ScriptedLLM:
    """Duck-typed like models.llm.LLM, as far as the service uses it."""

    name = "scripted-0.5b"
    n_ctx, n_threads = 2048, 2

    def __init__(self) -> None:
        self.model = SimpleNamespace(
            info=SimpleNamespace(context_length=32768, params_b=0.49), preset=None, path=Path("/m/x.gguf")
        )
        self.calls: list[dict] = []

    def tokenize(self, text: str) -> list[int]:
        return list(range(len(text.split())))

    def chat(self, messages, *, prefill="", on_token=None, cancel=None, **kw) -> Completion:
        self.calls.append({"messages": messages, "prefill": prefill, **kw})
        text = "return 1\n" if prefill else "plain"
        for piece in ("return ", "1\n"):
            if on_token:
                on_token(piece)
        return Completion(text, 7, 3, 0.01, 0.001)

    def chat_batch(self, messages, *, n, prefill="", seeds, **kw) -> list[Completion]:
        self.calls.append({"batch": n, "seeds": list(seeds), "prefill": prefill})
        return [Completion(f"sample {s}", 7, 2, 0.01) for s in seeds]


@pytest.fixture
def service(tmp_path, monkeypatch):
    sock = tmp_path / "run" / "serve.sock"
    monkeypatch.setenv("SMALLCODE_SERVE_SOCKET", str(sock))
    llm = ScriptedLLM()
    srv = UnixServiceServer(sock, llm)  # type: ignore[arg-type]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv, llm, sock
    srv.shutdown()
    srv.server_close()


def test_the_socket_is_the_users_alone(service):
    _, _, sock = service
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700


def test_the_backend_finds_it_as_serve_with_prefill_and_a_batch(service):
    _, llm, _ = service
    m = connect("serve")
    assert (m.info.kind, m.name, m.n_ctx, m.prefill, m.info.params_b) == (
        "smallcode",
        "scripted-0.5b",
        2048,
        True,
        0.49,
    )
    assert m.count_tokens("a b c d") == 4 and not m.tokens_estimated
    streamed: list[str] = []
    out = m.chat([{"role": "user", "content": "f"}], prefill="```python\n", on_token=streamed.append, seed=5)
    assert out.text == "return 1\n" and "".join(streamed) == out.text
    assert llm.calls[-1]["prefill"] == "```python\n" and llm.calls[-1]["seed"] == 5
    m.chat([{"role": "user", "content": "plan"}], json_schema={"type": "array"})
    assert llm.calls[-1]["json_schema"] == {"type": "array"}
    outs = m.chat_batch([{"role": "user", "content": "f"}], n=3, seeds=[1, 2, 3], prefill="```python\n")
    assert [o.text for o in outs] == ["sample 1", "sample 2", "sample 3"]
    assert llm.calls[-1] == {"batch": 3, "seeds": [1, 2, 3], "prefill": "```python\n"}


def test_a_second_service_on_the_same_socket_is_refused(service):
    _, llm, sock = service
    with pytest.raises(OSError, match="already listens"):
        UnixServiceServer(sock, llm)  # type: ignore[arg-type]


def test_a_stale_socket_is_replaced(tmp_path):
    import socket

    sock = tmp_path / "s.sock"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(sock))
    dead.close()  # bound, never listening: what a crashed service leaves
    srv = UnixServiceServer(sock, ScriptedLLM())  # type: ignore[arg-type]
    srv.server_close()
    assert not sock.exists()


def test_no_service_running_says_what_to_start(tmp_path, monkeypatch):
    monkeypatch.setenv("SMALLCODE_SERVE_SOCKET", str(tmp_path / "none.sock"))
    with pytest.raises(ServerError, match="smallcode serve -m"):
        connect("serve")
