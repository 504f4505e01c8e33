"""The MiniLM embedder's load: offline only while it loads its bundled folder, never after.

A scripted ``sentence_transformers`` stands in for the real one (no torch here); the real model
is checked in a fresh process by ``test_context_minilm.py``.
"""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest

from smallcode_jupyter.context import embedder as embedder_mod
from smallcode_jupyter.context.embedder import MiniLMEmbedder, hub_offline


class _Recorder:
    """What a fake SentenceTransformer saw when it was built."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[tuple[str, str | None, dict[str, object]]] = []

    def module(self) -> types.ModuleType:
        recorder = self

        class SentenceTransformer:
            def __init__(self, name: str, **kw: object) -> None:
                recorder.seen.append((name, os.environ.get("HF_HUB_OFFLINE"), kw))
                if recorder.fail:
                    raise OSError("weights unreadable")

            def encode(self, texts: list[str], **_kw: object) -> np.ndarray:
                return np.ones((len(texts), 384), dtype=np.float32)

        mod = types.ModuleType("sentence_transformers")
        mod.SentenceTransformer = SentenceTransformer  # type: ignore[attr-defined]
        return mod


@pytest.fixture
def fake_st(monkeypatch, tmp_path):
    def install(fail: bool = False, bundled: bool = True) -> _Recorder:
        rec = _Recorder(fail)
        monkeypatch.setitem(sys.modules, "sentence_transformers", rec.module())
        monkeypatch.setattr(embedder_mod, "bundled_model_dir", lambda: tmp_path if bundled else None)
        return rec

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return install


def test_offline_only_while_the_bundled_model_loads(fake_st, tmp_path):
    rec = fake_st()
    MiniLMEmbedder().embed(["x"])
    assert rec.seen == [(str(tmp_path), "1", {"device": "cpu", "local_files_only": True})]
    assert "HF_HUB_OFFLINE" not in os.environ


def test_environment_restored_when_the_load_fails(fake_st):
    rec = fake_st(fail=True)
    with pytest.raises(OSError, match="weights unreadable"):
        MiniLMEmbedder().embed(["x"])
    assert rec.seen[0][1] == "1"
    assert "HF_HUB_OFFLINE" not in os.environ


def test_users_own_setting_is_kept(fake_st, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    rec = fake_st()
    MiniLMEmbedder().embed(["x"])
    assert rec.seen[0][1] == "0"
    assert os.environ["HF_HUB_OFFLINE"] == "0"


def test_hub_model_loads_online(fake_st):
    rec = fake_st(bundled=False)
    MiniLMEmbedder().embed(["x"])
    assert rec.seen == [(embedder_mod.HUB_NAME, None, {"device": "cpu"})]


def test_hub_offline_restores_on_error(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    inside = []

    def fail() -> None:
        with hub_offline():
            inside.append(os.environ.get("HF_HUB_OFFLINE"))
            raise KeyError("boom")

    with pytest.raises(KeyError):
        fail()
    assert inside == ["1"]
    assert "HF_HUB_OFFLINE" not in os.environ
