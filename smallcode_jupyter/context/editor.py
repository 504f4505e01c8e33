"""The active notebook's cells as the editor has them (unsaved edits included), for the side panel."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .chunking import cell_names
from .notebook import skip_cell
from .types import Snippet

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _words(text: str) -> set[str]:
    out = set()
    for w in _WORD.findall(text):
        out.add(w.lower())
        out.update(p for p in w.lower().split("_") if len(p) > 2)
    return out


class EditorCells:
    """A :class:`~.types.ContextProvider` without embeddings over the editor's code cells.

    Cells that define something, ranked by the words they share with the query. Cheap enough to
    build per request, and it never reads the possibly stale file on disk. Which cells count is
    the notebook retriever's rule (:func:`~.notebook.skip_cell`), plus the cell being changed.
    """

    def __init__(self, cells: Sequence[str], notebook: str = "notebook", skip: int | None = None) -> None:
        self.items: list[tuple[int, str, set[str]]] = []
        for i, source in enumerate(cells):
            if i == skip or skip_cell(source):
                continue
            names = cell_names(source)
            if names:
                self.items.append((i, source, _words(source) | {n.lower() for n in names}))
        self.notebook = notebook

    def retrieve(self, query: str, k: int = 8) -> list[Snippet]:
        q = _words(query)
        scored = [(len(q & words), i, src) for i, src, words in self.items]
        scored = [s for s in scored if s[0] > 0]
        scored.sort(key=lambda s: (-s[0], -s[1]))  # most shared words, then the latest cell
        return [Snippet(src, f"{self.notebook}:cell {i + 1}:1", float(score)) for score, i, src in scored[:k]]
