"""The model-server backend against a scripted server: dialects, what each server can do, and
every error a user meets (server down, refused key, unknown model, timeout, a broken stream, a
server that ignores stop strings). The real server is in test_server_real.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from smallcode_jupyter.loop.events import Request
from smallcode_jupyter.loop.pipeline import Pipeline
from smallcode_jupyter.loop.settings import LoopSettings
from smallcode_jupyter.models import gate
from smallcode_jupyter.models.http import ServerError
from smallcode_jupyter.models.remote import connect
from smallcode_jupyter.models.servers import is_server_spec, params_from_name, parse_spec
from smallcode_jupyter.session import Session, SessionConfig

from .scripted_server import Script, Server


@pytest.fixture
def server():
    s = Server(Script())
    yield s
    s.stop()


def test_specs_name_servers():
    assert parse_spec("openai:http://h:8080/v1/qwen").url == "http://h:8080/v1"
    assert parse_spec("openai:http://h:8080/v1/qwen").model == "qwen"
    assert parse_spec("openai:http://h:8000/v1/Qwen/Qwen2.5-Coder-7B").model == "Qwen/Qwen2.5-Coder-7B"
    assert parse_spec("http://localhost:8080/v1") == parse_spec("http://localhost:8080")
    assert parse_spec("http://localhost:8080").model == ""
    o = parse_spec("ollama:qwen2.5-coder:7b")
    assert (o.url, o.model, o.kind) == ("http://localhost:11434/v1", "qwen2.5-coder:7b", "ollama")
    assert parse_spec("serve").url.startswith("http+unix://") and parse_spec("serve").kind == "smallcode"
    assert parse_spec("qwen2.5-coder-0.5b", base_url="http://h:1/v1/", api_model="m").url == "http://h:1/v1"
    assert all(map(is_server_spec, ["serve", "ollama:x", "openai:http://h/v1", "https://api.x/v1"]))
    assert not any(map(is_server_spec, ["qwen2.5-coder-0.5b", "/models/x.gguf", "hf:a/b/c.gguf"]))
    assert params_from_name("qwen2.5-coder:7b") == 7.0
    assert params_from_name("Qwen2.5-Coder-0.5B-Instruct") == 0.5
    assert params_from_name("mystery") is None


def test_llama_server_dialect_prefill_streaming_and_settings(server):
    m = connect(server.url, parallel=0)
    assert (m.info.kind, m.name, m.n_ctx, m.parallel, m.prefill) == (
        "llama-server",
        "coder-1.5b",
        8192,
        2,
        True,
    )
    assert m.info.params_b == pytest.approx(1.54) and not m.tokens_estimated
    assert m.count_tokens("three words here") == 3
    pieces: list[str] = []
    out = m.chat(
        [{"role": "user", "content": "hi"}], prefill="```python\n", stop=["\n```"], on_token=pieces.append
    )
    assert out.text == "def f():\n    return 1" and "".join(pieces) == out.text
    sent = server.script.requests[-1]
    assert sent["messages"][-1] == {"role": "assistant", "content": "```python\n"}  # continued
    assert sent["stream"] is True and sent["top_k"] == 1 and sent["temperature"] == 0.0
    s = Session(SessionConfig(model=server.url))
    settings = s.settings()
    assert settings.n_ctx == 4096 and settings.candidates == LoopSettings().candidates  # the 1-4B class
    assert "coder-1.5b on llama-server" in s.describe()


def test_a_server_that_repeats_the_prefill_gives_the_continuation_alone(server):
    # llama-server builds that continue a final assistant message by themselves stream the
    # prefilled text first: the loop must get (and the view must show) the continuation only.
    m = connect(server.url, parallel=0)
    server.script.reply = lambda body: "```python\ndef f():\n    return 1\n```"
    pieces: list[str] = []
    out = m.chat(
        [{"role": "user", "content": "hi"}], prefill="```python\n", stop=["\n```"], on_token=pieces.append
    )
    assert out.text == "def f():\n    return 1" and "".join(pieces) == out.text
    sent = server.script.requests[-1]
    assert sent["continue_final_message"] is True and sent["add_generation_prompt"] is False
    server.script.reply = lambda body: "```"  # shorter than the prefill and a prefix of it: kept
    assert m.chat([{"role": "user", "content": "hi"}], prefill="```python\n").text == "```"
    server.script.reply = lambda body: "x = 1"  # no repeat at all
    assert m.chat([{"role": "user", "content": "hi"}], prefill="```python\n").text == "x = 1"


def test_a_server_without_prefill_gets_no_prefill_and_the_code_comes_from_the_fence(server):
    server.script.kind = "openai"
    server.script.reply = lambda body: "Here it is:\n```python\ndef add(a, b):\n    return a + b\n```\nDone."
    m = connect(server.url)
    assert (m.info.kind, m.prefill, m.tokens_estimated) == ("openai", False, True)
    result = Pipeline(m, LoopSettings(candidates=1, max_iters=0)).run(
        Request(task="write a function add(a, b)", run=False, plan=False)
    )
    assert result.code.strip() == "def add(a, b):\n    return a + b"
    sent = server.script.requests[-1]
    assert sent["messages"][-1]["role"] == "user" and "top_k" not in sent  # OpenAI refuses extras


def test_stub_continuation_only_where_prefill_works(fake_llm):
    """A model without prefill gets no prefill, no stop string, and no continuation candidate
    (which would be a second greedy answer identical to the first)."""
    from smallcode_jupyter.loop.events import Usage
    from smallcode_jupyter.loop.generate import Generator

    stub = 'def f(x):\n    """Return x.\n    >>> f(2)\n    2\n    """\n'
    reply = "```python\ndef f(x):\n    return x\n```"
    for prefill, origins in (
        (True, ["greedy", "greedy body", "sample"]),
        (False, ["greedy", "sample", "sample"]),
    ):
        llm = type(fake_llm)([reply] * 3)
        llm.prefill = prefill  # type: ignore[attr-defined]
        msgs = [{"role": "user", "content": stub}]
        cands = Generator(llm, 64, 0.8).candidates(msgs, stub, "f", 0, 3, Usage())
        assert [c.origin for c in cands] == origins
        assert all(bool(c["prefill"]) == prefill for c in llm.calls)
        assert [c["temperature"] for c in llm.calls] == ([0.0, 0.0, 0.8] if prefill else [0.0, 0.8, 0.8])


def test_ollama_dialect(server, monkeypatch):
    server.script.kind = "ollama"
    server.script.models = ["qwen2.5-coder:7b"]
    monkeypatch.setenv("OLLAMA_HOST", server.url[: -len("/v1")])
    m = connect("ollama:qwen2.5-coder:7b")
    assert (m.info.kind, m.prefill, m.n_ctx, m.info.params_b) == ("ollama", False, 4096, pytest.approx(7.6))
    server.script.models = ["qwen2.5-coder:latest"]
    assert connect("ollama:qwen2.5-coder").name == "qwen2.5-coder:latest"  # Ollama's default tag


def test_vllm_continue_final_message(server):
    server.script.kind = "vllm"
    m = connect(server.url + "/coder-1.5b")
    assert (m.info.kind, m.n_ctx, m.prefill) == ("vllm", 8192, True)
    m.chat([{"role": "user", "content": "hi"}], prefill="```python\n")
    sent = server.script.requests[-1]
    assert sent["continue_final_message"] is True and sent["add_generation_prompt"] is False


def test_samples_are_requested_in_parallel(server):
    server.script.delay = 0.05
    m = connect(server.url, parallel=2)
    outs = m.chat_batch([{"role": "user", "content": "x"}], n=4, seeds=[1, 2, 3, 4], prefill="```python\n")
    assert len(outs) == 4 and server.script.max_active == 2
    assert sorted(r["seed"] for r in server.script.requests) == [1, 2, 3, 4]


def test_server_down_names_the_url_and_what_to_start():
    with pytest.raises(
        ServerError, match=r"no model server answers at http://127.0.0.1:9/v1.*smallcode serve"
    ):
        connect("openai:http://127.0.0.1:9/v1/m")


def test_refused_key_names_the_variable_and_never_shows_the_key(server, monkeypatch):
    server.script.key = "s3cret-key"
    with pytest.raises(ServerError, match=r"401.*\$SMALLCODE_API_KEY") as e:
        connect(server.url)
    monkeypatch.setenv("MY_KEY", "wrong-key")
    with pytest.raises(ServerError, match=r"401.*\$MY_KEY was refused") as e:
        connect(server.url, key_env="MY_KEY")
    assert "wrong-key" not in str(e.value)
    monkeypatch.setenv("MY_KEY", "s3cret-key")
    s = Session(SessionConfig(model=server.url, api_key_env="MY_KEY"))
    line = s.describe()
    assert "coder-1.5b" in line and "s3cret" not in line and "s3cret" not in repr(s.config)


def test_unknown_model_lists_the_servers_models(server):
    server.script.models = ["a-7b", "b-1.5b"]
    with pytest.raises(ServerError, match=r"unknown model 'c'.*It serves: a-7b, b-1.5b"):
        connect(server.url + "/c")


def test_timeout(server):
    server.script.stream = "hang"
    m = connect(server.url, timeout=0.5)
    with pytest.raises(ServerError, match=r"did not answer within 0\.5 s"):
        m.chat([{"role": "user", "content": "x"}])


@pytest.mark.parametrize(
    ("stream", "message"), [("malformed", "malformed event"), ("truncated", "ended before")]
)
def test_broken_streams(server, stream, message):
    server.script.stream = stream
    m = connect(server.url)
    with pytest.raises(ServerError, match=message):
        m.chat([{"role": "user", "content": "x"}])


def test_a_server_that_ignores_stop_strings_costs_tokens_not_the_answer(server):
    server.script.stream = "ignore-stop"
    server.script.reply = lambda body: "return 1\n```\nAnd here is an explanation nobody asked for."
    out = connect(server.url).chat([{"role": "user", "content": "x"}], stop=["\n```"])
    assert out.text == "return 1" and out.finish_reason == "stop"


def test_the_session_lists_the_servers_models_for_the_picker(server):
    server.script.models = ["coder-1.5b", "coder-7b"]
    s = Session(SessionConfig(model=server.url))
    rows = s.models()
    assert [r.name for r in rows[:2]] == ["coder-1.5b", "coder-7b"] and rows[0].current
    assert rows[1].spec == f"openai:{server.url}/coder-7b"
    assert "coder-7b on llama-server" in s.set_model(rows[1].spec)


def test_status_says_when_the_server_does_not_answer():
    from smallcode_jupyter.status import server_lines

    s = Session(SessionConfig(model="openai:http://127.0.0.1:9/v1/m"))
    assert "NOT answering" in server_lines(s)[0]


def test_the_gate_queues_a_second_generation_and_says_so(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SMALLCODE_MODEL_GATE_FILE", str(tmp_path / "gate.lock"))
    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with gate.hold():
            held.set()
            time.sleep(0.3)
            order.append("first done")

    t = threading.Thread(target=first)
    t.start()
    held.wait()
    waits: list[str] = []
    with gate.hold(on_wait=lambda: waits.append("waiting")) as waited:
        order.append("second runs")
    t.join()
    assert waited and waits == ["waiting"] and order == ["first done", "second runs"]
    stop = threading.Event()
    stop.set()
    with gate.hold(), pytest.raises(gate.Stopped):  # noqa: SIM117
        with gate.hold(cancel=stop):
            pass


def test_a_queued_generation_is_shown_as_waiting_for_the_model(fake_llm):
    """The session points an in-process model's ``on_wait`` at the view (models/gate.py calls it
    when another process holds the gate)."""
    from smallcode_jupyter.loop.settings import LoopSettings as Settings

    class Waiting(type(fake_llm)):  # type: ignore[misc]
        on_wait = None

        def chat(self, messages, **kw):
            if self.on_wait is not None:
                self.on_wait()  # what LLM.chat does when the gate is taken
            return super().chat(messages, **kw)

    llm = Waiting(["```python\ndef f():\n    return 1\n```"])

    class Scripted(Session):
        def load(self, spec=None, say=None):
            return llm

        def settings(self, spec=None):
            return Settings(candidates=1, max_iters=0, decompose=False)

    said: list[tuple[str, str]] = []
    session = Scripted(SessionConfig(model="fake"))
    session.run(
        session.request("write f", run=False), say=lambda state, message: said.append((state, message))
    )
    assert ("waiting", "waiting for the model: another smallcode process is generating") in said
