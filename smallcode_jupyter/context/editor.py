"""The active notebook's cells as the editor has them (unsaved edits included), and the merge of
them with the session's retriever, for the side panel."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .chunking import cell_names
from .notebook import skip_cell
from .types import ContextProvider, Snippet

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


def _same(a: str, b: str) -> bool:
    """One text holds the other: a cell and a function chunk of it say the same thing twice."""
    return bool(a) and bool(b) and (a in b or b in a)


class Combined:
    """Several :class:`~.types.ContextProvider` as one: their snippets merged by score, each
    score taken relative to its own provider's best, without repeats.

    The side panel pairs the editor's cells (unsaved edits, plain word overlap, integer scores)
    with the session's retriever (executed cells, the project, corpora; cosine scores). The two
    scales do not compare, so each provider's best snippet counts 1.0 and the rest a fraction of
    it; on a tie the earlier provider wins. A snippet whose text holds, or is held by, one
    already taken (the same cell seen as edited and as executed, or a function chunk of it) is
    dropped, and so is one that repeats an ``exclude`` text (the cell the task changes, which
    the request carries already). A provider that raises costs only its own snippets.
    """

    def __init__(self, providers: Sequence[ContextProvider | None], exclude: Sequence[str] = ()) -> None:
        self.providers = [p for p in providers if p is not None]
        self.exclude = [t.strip() for t in exclude if t.strip()]

    def retrieve(self, query: str, k: int = 8) -> list[Snippet]:
        ranked: list[tuple[float, int, int, Snippet]] = []
        for order, provider in enumerate(self.providers):
            try:
                found = list(provider.retrieve(query, k))
            except Exception:  # a broken index must not cost the run the other provider
                continue
            top = max((s.score for s in found), default=0.0)
            for rank, s in enumerate(found):
                ranked.append((s.score / top if top > 0 else 0.0, order, rank, s))
        ranked.sort(key=lambda r: (-r[0], r[1], r[2]))
        out: list[Snippet] = []
        for _, _, _, s in ranked:
            text = s.text.strip()
            if not text or any(_same(text, t) for t in self.exclude):
                continue
            if any(_same(text, o.text.strip()) for o in out):
                continue
            out.append(s)
            if len(out) >= k:
                break
        return out
