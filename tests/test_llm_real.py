"""End-to-end on the real shipped models (llama.cpp, no fakes)."""

from __future__ import annotations

import threading

import pytest

from smallcode_jupyter.models import llm as llm_mod

from .conftest import run

pytestmark = pytest.mark.model


def test_smollm2_generates_and_accounts_tokens(smollm2):
    model = llm_mod.load(smollm2)
    tokens: list[str] = []
    out = model.chat([{"role": "user", "content": "Say hello."}], max_tokens=16, on_token=tokens.append)
    assert out.text and "".join(tokens) == out.text
    assert out.prompt_tokens > 5 and 0 < out.completion_tokens <= 17
    assert out.seconds > 0 and out.first_token_seconds is not None
    assert llm_mod.load(smollm2) is model  # loaded once per process


def test_stop_sequences_and_prefill(smollm2):
    model = llm_mod.load(smollm2)
    out = model.chat([{"role": "user", "content": "Write python code that prints 1."}],
                     prefill="```python\n", stop=["```"], max_tokens=40)  # fmt: skip
    assert "```" not in out.text


def test_interrupt_stops_generation_and_model_stays_usable(smollm2):
    model = llm_mod.load(smollm2)
    seen = []

    def interrupt(tok: str) -> None:
        seen.append(tok)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.chat([{"role": "user", "content": "Count from 1 to 100."}], max_tokens=200, on_token=interrupt)
    assert len(seen) == 3
    out = model.chat([{"role": "user", "content": "Say hi."}], max_tokens=8)
    assert out.completion_tokens > 0


def test_cancel_event_stops_generation(smollm2):
    model = llm_mod.load(smollm2)
    cancel = threading.Event()
    n = []

    def on_token(_t: str) -> None:
        n.append(1)
        if len(n) == 2:
            cancel.set()

    out = model.chat([{"role": "user", "content": "Count from 1 to 100."}], max_tokens=200,
                     on_token=on_token, cancel=cancel)  # fmt: skip
    assert out.finish_reason == "cancelled" and len(n) == 2


def test_qwen_magic_writes_working_add(shell, qwen05):
    m = shell.magics_manager.registry["SmallcodeMagics"]
    m.cache_dir = str(qwen05.path.parent)  # the assembled file, not a second copy
    run(shell, "write a function add(a, b) that returns their sum")
    from smallcode_jupyter import last_result

    code = last_result().code
    assert "def add" in code
    ns: dict = {}
    exec(compile(code, "<generated>", "exec"), ns)
    assert ns["add"](2, 3) == 5
    assert shell.rl_next_input.strip() == code.strip()


def test_wrong_architecture_gguf_is_a_clear_error(smollm2, tmp_path):
    """A complete, well-formed GGUF of an architecture llama.cpp does not know: ModelError, no crash."""
    from smallcode_jupyter.models import ModelError, resolve

    bad = tmp_path / "alien.gguf"
    data = bytearray(smollm2.path.read_bytes())
    key = b"general.architecture"
    at = data.index(key) + len(key) + 4 + 8  # value type (u32) and string length (u64)
    data[at : at + 5] = b"xyzzy"
    data = data.replace(b"llama.", b"xyzzy.", 64)  # its metadata keys follow the architecture name
    bad.write_bytes(bytes(data))
    model = resolve(str(bad))
    assert model.info.architecture == "xyzzy"
    with pytest.raises(ModelError, match="could not load"):
        llm_mod.load(model)
    assert llm_mod.load(smollm2).chat([{"role": "user", "content": "hi"}], max_tokens=4).completion_tokens > 0
