"""The persistent index: incremental updates, persistence across processes, corruption, walking.

These use the lexical HashEmbedder so they run in milliseconds; the MiniLM path has its own test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from smallcode_jupyter.context.chunking import ChunkWarning
from smallcode_jupyter.context.embedder import HashEmbedder
from smallcode_jupyter.context.index import IndexWarning, ProjectIndex, default_store
from smallcode_jupyter.context.project import walk


def _project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "config.py").write_text(textwrap.dedent("""\
        def read_settings(path):
            return dict(line.split("=") for line in open(path))


        def write_settings(path, data):
            open(path, "w").write(str(data))
        """))  # fmt: skip
    (root / "pkg" / "money.py").write_text("def to_cents(s):\n    return int(float(s) * 100)\n")
    (root / "README.md").write_text("# Shop\nA shop.\n## Money\nCents everywhere.\n")
    return root


def _index(root: Path, **kw) -> ProjectIndex:
    return ProjectIndex(root, HashEmbedder(), **kw)


def test_incremental_add_modify_delete(tmp_path):
    root = _project(tmp_path / "p")
    s1 = _index(root).update()
    assert (
        sorted(s1.added) == ["README.md", "pkg/config.py", "pkg/money.py"] and s1.embedded == s1.chunks == 5
    )

    s2 = _index(root).update()  # a second run embeds nothing
    assert not s2.changed and s2.embedded == 0

    cfg = root / "pkg" / "config.py"  # change one function of two, and shift lines
    cfg.write_text("# header\n" + cfg.read_text().replace('"w"', '"a"'))
    (root / "pkg" / "dates.py").write_text("def parse_day(s):\n    return s.split('.')\n")
    (root / "README.md").unlink()
    ix = _index(root)
    s3 = ix.update()
    assert s3.modified == ["pkg/config.py"] and s3.added == ["pkg/dates.py"] and s3.deleted == ["README.md"]
    assert s3.embedded == 2  # write_settings (changed) and parse_day; read_settings only moved
    assert s3.removed == 3  # old write_settings and the README's two sections
    moved = next(c for c in ix.chunks.values() if c.symbol == "read_settings")
    assert moved.start == 2  # unchanged text keeps its vector but gets its new line numbers
    assert {c.path for c in ix.chunks.values()} == {"pkg/config.py", "pkg/money.py", "pkg/dates.py"}
    hits = ix.search(HashEmbedder().embed(["parse day"])[0], 1)
    assert hits[0][0].symbol == "parse_day"


def test_persistence_across_processes(tmp_path):
    root = _project(tmp_path / "p")
    _index(root).update()
    code = textwrap.dedent(f"""\
        from smallcode_jupyter.context.embedder import HashEmbedder
        from smallcode_jupyter.context.index import ProjectIndex
        ix = ProjectIndex({str(root)!r}, HashEmbedder())
        s = ix.update()
        hit = ix.search(HashEmbedder().embed(["read settings"])[0], 1)[0][0]
        print(s.embedded, len(ix.chunks), hit.symbol)
        """)  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["0", "5", "read_settings"]
    assert (root / ".smallcode" / ".gitignore").read_text() == "*\n"


@pytest.mark.parametrize("damage", ["manifest", "vectors", "version", "embedder", "missing"])
def test_corrupt_index_is_detected_and_rebuilt(tmp_path, damage):
    root = _project(tmp_path / "p")
    ix = _index(root)
    ix.update()
    store = ix.store
    vec = next(store.glob("vectors-*.usearch"))
    if damage == "manifest":
        (store / "manifest.json").write_text('{"version": 1, "chunks": {')
    elif damage == "vectors":
        vec.write_bytes(vec.read_bytes()[: vec.stat().st_size // 2])
    elif damage == "missing":
        vec.unlink()
    else:
        m = json.loads((store / "manifest.json").read_text())
        m["version" if damage == "version" else "embedder"] = 99 if damage == "version" else "other-model"
        (store / "manifest.json").write_text(json.dumps(m))
    fresh = _index(root)
    with pytest.warns(IndexWarning, match="unusable"):
        stats = fresh.update()
    assert stats.rebuilt and "rebuilt" in stats.describe()
    assert stats.embedded == stats.chunks == 5
    assert not _index(root).update().rebuilt  # and the rebuilt index is good


def test_crash_mid_indexing_keeps_previous_index(tmp_path):
    root = _project(tmp_path / "p")
    _index(root).update()

    class Dying(HashEmbedder):
        def embed(self, texts):
            raise KeyboardInterrupt

    (root / "pkg" / "new.py").write_text("def brand_new():\n    return 1\n")
    with pytest.raises(KeyboardInterrupt):
        ProjectIndex(root, Dying()).update()
    after = _index(root)
    after.open()
    assert not after.rebuilt and len(after.chunks) == 5 and "pkg/new.py" not in after.files
    assert after.update().added == ["pkg/new.py"]


def test_syntax_error_file_is_skipped_not_fatal(tmp_path):
    root = _project(tmp_path / "p")
    (root / "pkg" / "broken.py").write_text("def broken(:\n")
    with pytest.warns(ChunkWarning, match="broken.py"):
        stats = _index(root).update()
    assert stats.chunks == 5 and "pkg/broken.py" in stats.added


def test_walk_honours_gitignore_and_skips_junk(tmp_path):
    root = _project(tmp_path / "p")
    (root / ".gitignore").write_text("secret*.py\nbuild_out/\n")
    (root / "pkg" / ".gitignore").write_text("local.py\n")
    for rel in ["secret_keys.py", "build_out/gen.py", "pkg/local.py", "node_modules/x/index.js",
                ".venv/lib/site.py", "data/table.py", "myenv/lib/x.py"]:  # fmt: skip
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x = 1\n")
    (root / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    (root / "blob.py").write_bytes(b"x = 1\0\0binary")
    (root / "huge.py").write_text("x = 1\n" * 200_000)
    (root / "table.csv").write_text("a,b\n1,2\n")
    (root / "big.json").write_text(json.dumps(list(range(20000))))
    (root / "small.json").write_text('{"a": 1}')
    found = {p.relative_to(root).as_posix() for p in walk(root)}
    assert found == {"pkg/config.py", "pkg/money.py", "README.md", "small.json"}


def test_read_only_project_indexes_into_cache(tmp_path, monkeypatch):
    root = _project(tmp_path / "p")
    monkeypatch.setenv("SMALLCODE_INDEX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    store = default_store(root.resolve())
    assert store.parent == tmp_path / "cache" and store.name.startswith("p-")
    ix = _index(root)
    ix.update()
    assert (store / "manifest.json").exists() and not (root / ".smallcode").exists()


def test_full_disk_while_saving_keeps_previous_index(tmp_path, monkeypatch):
    import errno

    from smallcode_jupyter.context import index as index_mod

    root = _project(tmp_path / "p")
    _index(root).update()
    (root / "pkg" / "new.py").write_text("def brand_new():\n    return 1\n")
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, _data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(index_mod.os, "fdopen", lambda fd, mode="r": Full(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="No space left"):
        _index(root).update()
    monkeypatch.undo()
    leftovers = [p.name for p in root.rglob("*.tmp")]
    assert leftovers == []  # no half-written file survives, nor is one ever read
    after = _index(root)
    after.open()
    assert not after.rebuilt and len(after.chunks) == 5 and "pkg/new.py" not in after.files
