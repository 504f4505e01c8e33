"""The live notebook as a retrieval source: cells the user ran, and the notebook file's cells.

Kept in memory (a notebook has tens of cells, not thousands): each ``refresh`` reads the
kernel's input history and, when the notebook file is known, its cells; only cells whose text
is new are embedded. Only cells that define something (a function, a class, a variable, an
import) are kept: ``df.head()`` is not a helper the model can reuse.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from .chunking import Chunk, cell_names, chunk_cells, embed_text

if TYPE_CHECKING:
    from .embedder import Embedder, Vectors

Shell: TypeAlias = Any
"""An IPython ``InteractiveShell``; only ``user_ns`` and ``history_manager.input_hist_raw`` are
read, each through ``getattr`` with a default, so any object (a test's namespace) will do. Not a
Protocol: the shell's attributes are traitlets, which a structural type does not match."""


def notebook_path(shell: Shell) -> Path | None:
    """The notebook file of this kernel, when the front end tells us (VS Code, Jupyter server)."""
    ns = getattr(shell, "user_ns", {}) or {}
    for cand in (ns.get("__vsc_ipynb_file__"), ns.get("__session__"), os.environ.get("JPY_SESSION_NAME")):
        if cand and str(cand).endswith(".ipynb") and Path(str(cand)).is_file():
            return Path(str(cand))
    return None


_NEVER_CONTEXT = (
    "%%smallcode",
    "%smallcode",
    "%load_ext",
    "get_ipython().run_cell_magic('smallcode'",
    "get_ipython().run_line_magic('smallcode'",
    "get_ipython().run_line_magic('load_ext'",
)


def skip_cell(source: str) -> bool:
    """Cells that are never context: empty ones, smallcode's own and ``%load_ext``."""
    s = source.lstrip()
    return not s or s.startswith(_NEVER_CONTEXT)


def history_cells(shell: Shell) -> list[tuple[int, str]]:
    """(execution count, source) of the cells run in this kernel, oldest first, raw (with magics)."""
    hm = getattr(shell, "history_manager", None)
    raw = list(getattr(hm, "input_hist_raw", []) or []) if hm is not None else []
    if not raw:
        raw = list((getattr(shell, "user_ns", {}) or {}).get("In", []) or [])
    return [(i, s) for i, s in enumerate(raw) if i > 0 and isinstance(s, str) and not skip_cell(s)]


class NotebookSource:
    """Embedded cells of the live notebook, refreshed cheaply before each retrieval."""

    def __init__(self, shell: Shell, embedder: Embedder, path: Path | None = None) -> None:
        self.shell, self.embedder = shell, embedder
        self.path = path
        self.chunks: list[Chunk] = []
        self._vectors: dict[str, Vectors] = {}  # chunk id -> vector, kept across refreshes

    def refresh(self) -> int:
        """Re-read history and notebook cells; embed the new ones. Returns how many were embedded."""
        chunks: list[Chunk] = []
        if self.shell is not None:
            hist = [(n, "code", s) for n, s in history_cells(self.shell) if cell_names(s)]
            chunks += chunk_cells(hist, "In")
        nb = self.path or (notebook_path(self.shell) if self.shell is not None else None)
        if nb is not None:
            chunks += self._file_cells(nb)
        seen_text: set[str] = set()
        defined: set[str] = set()
        unique = []
        for c in reversed(chunks):  # newest first: a cell whose names were all redefined later is stale
            stale = c.names and set(c.names) <= defined
            if c.text.strip() not in seen_text and not stale:
                seen_text.add(c.text.strip())
                unique.append(c)
            defined.update(c.names)
        self.chunks = unique[::-1]
        new = [c for c in self.chunks if c.id not in self._vectors]
        if new:
            for c, v in zip(new, self.embedder.embed([embed_text(c) for c in new]), strict=True):
                self._vectors[c.id] = v
        return len(new)

    def _file_cells(self, path: Path) -> list[Chunk]:
        try:
            import nbformat

            nb = nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]  # nbformat is untyped
        except Exception:  # a notebook being saved, or not a notebook: skip it this time
            return []
        cells = [
            (i, c.cell_type, c.source)
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and not skip_cell(c.source) and cell_names(c.source)
        ]
        return chunk_cells(cells, path.name)

    def search(self, vector: Vectors, k: int = 8) -> list[tuple[Chunk, float]]:
        """Cells by cosine similarity (vectors are normalised), best first."""
        import numpy as np

        if not self.chunks:
            return []
        mat = np.stack([self._vectors[c.id] for c in self.chunks])
        sims = mat @ np.asarray(vector, dtype=np.float32)
        order = np.argsort(-sims)[:k]
        return [(self.chunks[i], float(sims[i])) for i in order]

    def vectors_for(self, chunks: list[Chunk]) -> Vectors:
        import numpy as np

        if not chunks:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([self._vectors[c.id] for c in chunks])

    def defining(self, names: set[str]) -> list[Chunk]:
        return [c for c in self.chunks if names & set(c.names)]
