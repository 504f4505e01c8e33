"""Shared fixtures: a real IPython shell, a scripted fake LLM, and the real shipped models."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from smallcode_jupyter.loop.inputs_prompts import SYSTEM as INPUTS_SYSTEM
from smallcode_jupyter.models.catalog import PRESETS
from smallcode_jupyter.models.llm import Completion, Message


class FakeLLM:
    """Scripted model: each ``chat`` call pops the next reply (a string, or a function of the
    messages). Records every call so tests can assert what the loop asked.

    Calls for probe inputs (behaviour voting) pop from ``inputs`` instead, "[]" (none) when it
    is empty, so tests about other stages need not script them."""

    name = "fake"

    def __init__(
        self, replies: Sequence[str | Callable[[Sequence[Message]], str]] = (), inputs: Sequence[str] = ()
    ) -> None:
        self.replies = list(replies)
        self.inputs = list(inputs)
        self.calls: list[dict] = []

    def chat(self, messages, *, prefill="", max_tokens=512, temperature=0.0, seed=None, stop=(),
             grammar=None, json_schema=None, on_token=None, cancel: threading.Event | None = None) -> Completion:  # fmt: skip
        self.calls.append({"messages": list(messages), "prefill": prefill, "temperature": temperature,
                           "grammar": grammar, "json_schema": json_schema, "max_tokens": max_tokens,
                           "seed": seed})  # fmt: skip
        if json_schema is not None and messages[0]["content"] == INPUTS_SYSTEM:
            text = self.inputs.pop(0) if self.inputs else "[]"
            return Completion(text, 1, self.count_tokens(text), 0.01, 0.001)
        if not self.replies:
            raise AssertionError(f"FakeLLM: no scripted reply left for call {len(self.calls)}")
        reply = self.replies.pop(0)
        text = reply(messages) if callable(reply) else reply
        for word in text.split(" "):
            if on_token:
                on_token(word + " ")
        return Completion(text, self.count_tokens(str(messages)), self.count_tokens(text), 0.01, 0.001)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@pytest.fixture
def fake_llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
def shell(tmp_path: Path) -> Iterator:
    """A real InteractiveShell with the extension loaded and a private model cache."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.SmallcodeMagics.cache_dir = str(tmp_path / "cache")
    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance(config=cfg)
    sh.run_line_magic("load_ext", "smallcode")
    yield sh
    sh.run_line_magic("unload_ext", "smallcode")
    InteractiveShell.clear_instance()


@pytest.fixture(scope="session")
def smollm2():
    """The real SmolLM2-135M from its registry package."""
    from smallcode_jupyter.models.store import resolve

    return resolve("smollm2-135m", download=False)


@pytest.fixture(scope="session")
def qwen05():
    """The real Qwen2.5-Coder-0.5B, assembled from its chunk packages into the user cache."""
    from smallcode_jupyter.models.store import resolve

    return resolve("qwen2.5-coder-0.5b", download=False)


def preset(name: str):
    return PRESETS[name]


def run(shell, line: str, body: str = ""):
    """Run ``%%smallcode line`` + body as a notebook cell would (through IPython's transformers)."""
    cell = f"%%smallcode {line}" + (f"\n{body}" if body else "")
    result = shell.run_cell(cell)
    result.raise_error()
    return result
