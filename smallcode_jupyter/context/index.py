"""A persistent, incremental vector index of one folder (a project or a corpus).

Layout, under ``<root>/.smallcode/index/`` (or a cache folder when the root is read-only)::

    manifest.json          version, embedder, files (hash, mtime, size, chunk ids), chunks
    vectors-<gen>.usearch  the usearch (cosine) index the manifest names

WHY generations: the manifest is the commit point. New vectors go to a new file first, then the
manifest is replaced atomically (temp + fsync + rename), then old vector files are removed, so a
crash at any moment leaves a manifest that names a complete vector file. A manifest that does
not parse, comes from another format version or embedder, or names a missing or altered
vector file is reported and the index is rebuilt from scratch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from .chunking import Chunk, chunk_file, embed_text
from .project import MAX_BYTES, walk

if TYPE_CHECKING:
    from .embedder import Embedder, Vectors

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
BATCH = 64
Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)


class CorruptIndex(Exception):
    """The stored index cannot be used as is (it is rebuilt)."""


class IndexWarning(UserWarning):
    """An index was found corrupt or outdated and rebuilt."""


class FileEntry(TypedDict):
    """What the manifest records of one indexed file."""

    sha: str  # sha1 of the content
    mtime: int  # st_mtime_ns when last seen
    size: int
    chunks: list[str]  # ids of its chunks, in file order


@dataclass
class UpdateStats:
    """What one ``update`` did."""

    files: int = 0
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    embedded: int = 0  # chunks embedded in this run
    removed: int = 0  # chunks dropped in this run
    chunks: int = 0  # chunks in the index afterwards
    seconds: float = 0.0
    rebuilt: str = ""  # why the stored index was discarded, if it was

    @property
    def changed(self) -> bool:
        return bool(self.added or self.modified or self.deleted or self.embedded or self.removed)

    def describe(self) -> str:
        s = (
            f"{self.files} files, {self.chunks} chunks: +{len(self.added)} ~{len(self.modified)} "
            f"-{len(self.deleted)} files, {self.embedded} chunks embedded in {self.seconds:.1f} s"
        )
        return f"index rebuilt ({self.rebuilt}); {s}" if self.rebuilt else s


def default_store(root: Path) -> Path:
    """``<root>/.smallcode/index`` if we may write there, else a per-root cache folder."""
    if os.access(root, os.W_OK):
        return root / ".smallcode" / "index"
    base = Path(os.environ.get("SMALLCODE_INDEX_CACHE") or Path.home() / ".cache" / "smallcode" / "index")
    digest = hashlib.sha1(str(root).encode(), usedforsecurity=False).hexdigest()[:12]
    return base / f"{root.name or 'root'}-{digest}"


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_hash(path: Path) -> str:
    return hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()


def _chunk_quietly(path: Path, rel: str) -> list[Chunk]:
    """The file's chunks, duplicates dropped; chunking warnings are re-issued and logged."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = chunk_file(path.read_text(encoding="utf-8", errors="replace"), rel)
    for w in caught:
        warnings.warn(str(w.message), w.category, stacklevel=4)
        log.warning("%s", w.message)
    return list({c.id: c for c in chunks}.values())


class ProjectIndex:
    """Chunks and vectors of every indexable file under ``root``; see the module docstring."""

    def __init__(
        self,
        root: str | Path,
        embedder: Embedder | None = None,
        store: str | Path | None = None,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        from .embedder import get_embedder

        self.root = Path(root).expanduser().resolve()
        self.store = Path(store) if store else default_store(self.root)
        self.embedder = embedder if embedder is not None else get_embedder()
        self.max_bytes = max_bytes
        self.files: dict[str, FileEntry] = {}
        self.chunks: dict[str, Chunk] = {}
        self.keys: dict[str, int] = {}
        self._by_key: dict[int, str] = {}
        self._vectors: Any = None  # a usearch Index (usearch ships no type information)
        self._next_key = 1
        self._generation = 0
        self._loaded = False
        self.rebuilt = ""

    # -- persistence ----------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.store / "manifest.json"

    def exists(self) -> bool:
        """Has this folder been indexed before (by any process)?"""
        return self.manifest_path.exists()

    def _new_vectors(self) -> Any:
        from usearch.index import Index

        return Index(ndim=self.embedder.dim, metric="cos", dtype="f32")

    def load(self) -> None:
        """Read the stored index; raises CorruptIndex with the reason if it is unusable."""
        try:
            m = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as e:
            raise CorruptIndex(f"unreadable manifest: {e}") from e
        if not isinstance(m, dict) or m.get("version") != FORMAT_VERSION:
            raise CorruptIndex(
                f"format version {m.get('version') if isinstance(m, dict) else '?'}, "
                f"expected {FORMAT_VERSION}"
            )
        if (m.get("embedder"), m.get("dim")) != (self.embedder.name, self.embedder.dim):
            raise CorruptIndex(f"built with embedder {m.get('embedder')}, now {self.embedder.name}")
        try:
            chunks = {cid: Chunk.from_json(c) for cid, c in m["chunks"].items()}
            keys = {cid: int(c["key"]) for cid, c in m["chunks"].items()}
            files, vec_name, digest = m["files"], m["vectors"], m["vectors_sha1"]
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptIndex(f"malformed manifest: {e}") from e
        vec_path = self.store / vec_name
        vectors = self._new_vectors()
        if chunks:
            try:
                data = vec_path.read_bytes()
            except OSError as e:
                raise CorruptIndex(f"missing vectors file {vec_name}") from e
            if hashlib.sha1(data, usedforsecurity=False).hexdigest() != digest:
                raise CorruptIndex(f"vectors file {vec_name} does not match the manifest")
            try:
                vectors.load(str(vec_path))
            except (ValueError, RuntimeError) as e:
                raise CorruptIndex(f"unreadable vectors file: {e}") from e
            if len(vectors) != len(chunks):
                raise CorruptIndex(f"{len(vectors)} vectors for {len(chunks)} chunks")
        self.files, self.chunks, self.keys, self._vectors = files, chunks, keys, vectors
        self._by_key = {k: cid for cid, k in keys.items()}
        self._next_key = int(m.get("next_key", max(keys.values(), default=0) + 1))
        self._generation = int(m.get("generation", 0))

    def open(self) -> ProjectIndex:
        """Load the stored index if there is a usable one; otherwise start empty (and say why)."""
        if self._loaded:
            return self
        self._loaded = True
        try:
            self.load()
        except FileNotFoundError:
            self._reset()
        except CorruptIndex as e:
            self.rebuilt = str(e)
            msg = f"smallcode: the index of {self.root} is unusable ({e}); rebuilding it"
            warnings.warn(msg, IndexWarning, stacklevel=2)
            log.warning(msg)
            self._reset()
        return self

    def _reset(self) -> None:
        self.files, self.chunks, self.keys, self._by_key = {}, {}, {}, {}
        self._vectors = None

    def save(self) -> None:
        """Write vectors to a new generation file, then commit the manifest atomically."""
        self.store.mkdir(parents=True, exist_ok=True)
        marker = self.store.parent / ".gitignore"
        if self.store.parent.name == ".smallcode" and not marker.exists():
            marker.write_text("*\n")
        self._generation += 1
        vec_name = f"vectors-{self._generation}.usearch"
        vectors = self._vectors if self._vectors is not None else self._new_vectors()
        data = b"" if not self.chunks else bytes(vectors.save())
        _atomic_write(self.store / vec_name, data)
        manifest = {
            "version": FORMAT_VERSION,
            "embedder": self.embedder.name,
            "dim": self.embedder.dim,
            "root": str(self.root),
            "generation": self._generation,
            "vectors": vec_name,
            "vectors_sha1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
            "next_key": self._next_key,
            "files": self.files,
            "chunks": {cid: {"key": self.keys[cid], **c.to_json()} for cid, c in self.chunks.items()},
        }
        _atomic_write(self.manifest_path, json.dumps(manifest, separators=(",", ":")).encode())
        for old in self.store.glob("vectors-*.usearch"):
            if old.name != vec_name:
                old.unlink(missing_ok=True)

    def size_bytes(self) -> int:
        """Bytes on disk (manifest plus vectors)."""
        return sum(p.stat().st_size for p in self.store.glob("*") if p.is_file())

    # -- updating --------------------------------------------------------------------------------
    def scan(self) -> list[Path]:
        """The files that would be indexed now."""
        return list(walk(self.root, self.max_bytes))

    def update(self, progress: Progress | None = None, rebuild: bool = False) -> UpdateStats:
        """Bring the index in line with the folder: embed only new chunks, drop vanished ones."""
        t0 = time.perf_counter()
        self.open()
        stats = UpdateStats(rebuilt=self.rebuilt)
        if rebuild:
            self._reset()
            stats.rebuilt = stats.rebuilt or "asked to"
        self.rebuilt = ""
        changed = self._rescan(stats)
        if self._vectors is None:
            self._vectors = self._new_vectors()
        stats.removed = self._drop_unlisted()
        fresh = self._place(changed)
        self._embed(fresh, progress)
        stats.embedded = len(fresh)
        stats.chunks = len(self.chunks)
        if stats.changed or stats.rebuilt or not self.exists():
            self.save()
        stats.seconds = time.perf_counter() - t0
        return stats

    def _rescan(self, stats: UpdateStats) -> dict[str, list[Chunk]]:
        """Re-chunk the files that changed since the last update and forget deleted ones.

        Records the files in ``self.files`` and what happened in ``stats``; returns the new
        chunks of each changed file.
        """
        paths = self.scan()
        stats.files = len(paths)
        changed: dict[str, list[Chunk]] = {}
        seen: set[str] = set()
        for p in paths:
            rel = p.relative_to(self.root).as_posix() if p != self.root else p.name
            seen.add(rel)
            entry = self._changed_entry(p, rel)
            if entry is None:
                continue
            changed[rel] = _chunk_quietly(p, rel)
            (stats.modified if rel in self.files else stats.added).append(rel)
            self.files[rel] = {**entry, "chunks": [c.id for c in changed[rel]]}
        stats.deleted = sorted(set(self.files) - seen)
        for rel in stats.deleted:
            del self.files[rel]
        return changed

    def _changed_entry(self, path: Path, rel: str) -> FileEntry | None:
        """The file's new entry (its chunk list still empty) if its content changed, else None.

        Size and mtime decide cheaply; when only the mtime moved, the hash decides (and the
        stored mtime is brought up to date). An unreadable file counts as unchanged.
        """
        try:
            st = path.stat()
        except OSError:
            return None
        old = self.files.get(rel)
        if old and old["mtime"] == st.st_mtime_ns and old["size"] == st.st_size:
            return None
        try:
            sha = _file_hash(path)
        except OSError:
            return None
        if old and old["sha"] == sha:
            old["mtime"] = st.st_mtime_ns
            return None
        return {"sha": sha, "mtime": st.st_mtime_ns, "size": st.st_size, "chunks": []}

    def _drop_unlisted(self) -> int:
        """Remove the chunks (and vectors) that no file lists any more; returns how many."""
        listed = {cid for f in self.files.values() for cid in f["chunks"]}
        gone = [cid for cid in self.chunks if cid not in listed]
        if gone:
            self._vectors.remove([self.keys[cid] for cid in gone])
            for cid in gone:
                self._by_key.pop(self.keys.pop(cid), None)
                del self.chunks[cid]
        return len(gone)

    def _place(self, changed: dict[str, list[Chunk]]) -> list[Chunk]:
        """The chunks to embed, in file order. Text already indexed that only moved keeps its
        vector and takes its new line numbers."""
        fresh: list[Chunk] = []
        for chunks in changed.values():
            for c in chunks:
                if c.id in self.chunks:
                    self.chunks[c.id] = c
                else:
                    fresh.append(c)
        return fresh

    def _embed(self, chunks: Sequence[Chunk], progress: Progress | None) -> None:
        import numpy as np

        total = len(chunks)
        if progress and total:
            progress(0, total)
        for i in range(0, total, BATCH):
            batch = chunks[i : i + BATCH]
            vecs = self.embedder.embed([embed_text(c) for c in batch])
            keys = np.arange(self._next_key, self._next_key + len(batch), dtype=np.uint64)
            self._next_key += len(batch)
            self._vectors.add(keys, vecs)
            for c, k in zip(batch, keys.tolist(), strict=True):
                self.chunks[c.id], self.keys[c.id], self._by_key[k] = c, k, c.id
            if progress:
                progress(min(i + BATCH, total), total)

    # -- querying --------------------------------------------------------------------------------
    def search(self, vector: Vectors, k: int = 8) -> list[tuple[Chunk, float]]:
        """The ``k`` nearest chunks with their cosine similarity, best first."""
        self.open()
        if not self.chunks or self._vectors is None:
            return []
        m = self._vectors.search(vector, count=min(k, len(self.chunks)), exact=len(self.chunks) <= 20000)
        out = []
        for key, dist in zip(m.keys.tolist(), m.distances.tolist(), strict=True):
            cid = self._by_key.get(int(key))
            if cid is not None:
                out.append((self.chunks[cid], 1.0 - float(dist)))
        return out

    def vectors_for(self, chunks: Iterable[Chunk]) -> Vectors:
        """Stored vectors of indexed chunks (for de-duplication), as a 2-D array."""
        import numpy as np

        keys = [self.keys[c.id] for c in chunks]
        if not keys:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.asarray(self._vectors.get(np.array(keys, dtype=np.uint64)), dtype=np.float32)

    def defining(self, names: Iterable[str]) -> list[Chunk]:
        """Chunks whose symbol (or a name defined inside) is one of ``names``."""
        self.open()
        want = set(names)
        if not want:
            return []
        out = []
        for c in self.chunks.values():
            short = {
                c.symbol,
                c.symbol.rsplit(".", 1)[-1],
                *c.names,
                *(n.rsplit(".", 1)[-1] for n in c.names),
            }
            if want & short:
                out.append(c)
        return out
