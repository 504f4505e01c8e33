"""The default :class:`~smallcode_jupyter.context.types.ContextProvider`: notebook + project + corpora.

Per query: what the task names explicitly comes first (``read_settings``, ``Config.load``,
``In[3]``: the cells and symbols that define those names), then the nearest chunks by cosine
similarity from every source, de-duplicated with maximal marginal relevance so five near-copies
of one helper do not crowd out the other helper the task needs. Snippets below a similarity
floor, or far below the best match, are dropped: for a 0.5B model irrelevant context is worse
than none (it copies from whatever it is shown). A helper the task names is shown as an API
(import line, signature, docstring) to call; similar code keeps its body, as an example. The
pipeline then packs the list into its token budget with the model's own tokenizer.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .chunking import Chunk
from .types import Snippet

if TYPE_CHECKING:
    from .embedder import Embedder, Vectors
    from .index import ProjectIndex
    from .notebook import NotebookSource, Shell

_BACKTICK = re.compile(r"`([^`]+)`")
_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_SNAKE = re.compile(r"\b([A-Za-z]\w*_\w+)\b")
_CAMEL = re.compile(r"\b([A-Z][a-z0-9]+[A-Z]\w*)\b")
_DOTTED = re.compile(r"\b(\w+)\.([A-Za-z_]\w*)\b")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_CELL_REF = re.compile(r"\bIn\s*\[\s*(\d+)\s*\]")


def named_symbols(query: str) -> set[str]:
    """Identifiers the query names explicitly: backticked, called, snake_case, CamelCase, dotted."""
    names: set[str] = set()
    for m in _BACKTICK.finditer(query):
        names.update(_IDENT.findall(m.group(1)))
    for rx in (_CALL, _SNAKE, _CAMEL):
        names.update(m.group(1) for m in rx.finditer(query))
    for m in _DOTTED.finditer(query):  # Config.parse: the attribute, and the owner if class-like
        names.update([m.group(2)] + ([m.group(1)] if m.group(1)[:1].isupper() else []))
    return {n for n in names if len(n) > 2}


class ChunkSource(Protocol):
    """Embedded chunks to search: the live notebook (NotebookSource) or a folder's ProjectIndex."""

    @property
    def chunks(self) -> Sized: ...

    def defining(self, names: set[str]) -> list[Chunk]: ...

    def search(self, vector: Vectors, k: int = 8) -> list[tuple[Chunk, float]]: ...

    def vectors_for(self, chunks: list[Chunk]) -> Vectors: ...


@dataclass
class Hit:
    """A candidate snippet: the chunk, its similarity, where it came from and why it was chosen."""

    chunk: Chunk
    score: float
    origin: ChunkSource
    label: str = ""  # prefix for the source ("" for the project, the corpus name otherwise)
    why: str = "similar"  # or "named", "cell"

    def snippet(self) -> Snippet:
        c = self.chunk
        text = c.text
        if c.kind == "method" and "." in c.symbol:  # the model must see it is a method
            text = f"class {c.symbol.rsplit('.', 1)[0]}:  # excerpt\n{text}"
        module = import_path(c.path)
        if module and c.kind in ("function", "class") and "." not in c.symbol:
            # Small models guess import paths badly, and copy code far more readily than comments.
            text = f"from {module} import {c.symbol}\n\n{text}"
            if self.why == "named" and c.kind == "function":
                # A helper the task names is to be called: show its API, not a body to copy.
                text = f"# already written: import it and call it, do not rewrite it\n{_api_stub(text)}"
        src = f"{self.label}/{c.source}" if self.label else c.source
        return Snippet(text, src, round(self.score, 3))


def _api_stub(text: str) -> str:
    """A function's source reduced to imports, decorators, signature and docstring."""
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(text))
    except SyntaxError:
        return text
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)), None)
    if fn is None:
        return text
    lines = text.splitlines()
    first = fn.body[0]
    doc = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    keep = lines[: first.end_lineno if doc else first.lineno - 1]
    line = lines[first.lineno - 1]
    indent = line[: len(line) - len(line.lstrip())]
    return "\n".join([*keep, f"{indent}..."])


def import_path(path: str) -> str:
    """``pkg/mod.py`` -> ``pkg.mod`` (``src/`` layouts and ``__init__`` handled); '' if not a module."""
    if not path.endswith(".py") or path == "In":
        return ""
    parts = path[:-3].split("/")
    if parts[0] in ("src", "lib") and len(parts) > 1:
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    ok = parts and all(p.isidentifier() for p in parts)
    return ".".join(parts) if ok else ""


def mmr(
    hits: Sequence[Hit], vectors: Vectors, k: int, lam: float = 0.7, duplicate: float = 0.92
) -> list[int]:
    """Indices of up to ``k`` hits by maximal marginal relevance (relevance vs redundancy);
    a hit closer than ``duplicate`` (cosine) to one already chosen is never taken."""
    import numpy as np

    if not hits:
        return []
    rel = np.array([h.score for h in hits])
    sim = vectors @ vectors.T if len(vectors) else np.zeros((len(hits), len(hits)))
    chosen: list[int] = []
    left = list(range(len(hits)))
    while left and len(chosen) < k:
        if chosen:
            redundancy = sim[np.ix_(left, chosen)].max(axis=1)
            keep = redundancy < duplicate
            left = [i for i, ok in zip(left, keep, strict=True) if ok]
            if not left:
                break
            scores = lam * rel[left] - (1 - lam) * redundancy[keep]
        else:
            scores = rel[left]
        best = left[int(np.argmax(scores))]
        chosen.append(best)
        left.remove(best)
    return chosen


def _overlaps(a: Chunk, b: Chunk) -> bool:
    return a.path == b.path and a.cell == b.cell and a.start <= b.end and b.start <= a.end


class Retriever:
    """Retrieval over the live notebook (``shell``), a project folder and extra corpora.

    Similar snippets must score at least ``min_score`` and within ``relative`` of the best
    match; when the task names helpers, at most ``extra_when_named`` similar snippets join them.
    Indexes are opened lazily and refreshed incrementally (at most every ``refresh_every``
    seconds); a project that was never indexed is indexed on first use only if it has at most
    ``auto_index_limit`` files (otherwise ``%smallcode index`` / ``smallcode index`` does it,
    with a progress bar).
    """

    def __init__(
        self,
        project: str | Path | None = None,
        corpora: Iterable[str | Path] = (),
        shell: Shell = None,
        notebook: str | Path | None = None,
        embedder: Embedder | None = None,
        *,
        min_score: float = 0.25,
        relative: float = 0.15,
        extra_when_named: int = 2,
        mmr_lambda: float = 0.7,
        auto_index_limit: int = 300,
        refresh_every: float = 10.0,
        say: Callable[[str], None] | None = None,
    ) -> None:
        from .embedder import get_embedder

        self.embedder = embedder if embedder is not None else get_embedder()
        self.project = Path(project).expanduser().resolve() if project else None
        self.corpora = [Path(c).expanduser().resolve() for c in corpora]
        self.shell = shell
        self.min_score, self.relative, self.mmr_lambda = min_score, relative, mmr_lambda
        self.extra_when_named = extra_when_named
        self.auto_index_limit, self.refresh_every = auto_index_limit, refresh_every
        self.say = say or (lambda s: print(s, file=sys.stderr))
        self._notebook_path = Path(notebook) if notebook else None
        self._notebook: NotebookSource | None = None
        self._indexes: dict[Path, ProjectIndex] = {}
        self._refreshed = 0.0
        self._lock = threading.RLock()
        self._skipped: set[Path] = set()
        self._qcache: tuple[str, Vectors] | None = None

    # -- sources ---------------------------------------------------------------------------------
    def index_for(self, root: Path) -> ProjectIndex:
        """The (cached) index object of one folder; corpora keep theirs in the cache folder."""
        from .index import ProjectIndex, default_store

        if root not in self._indexes:
            store = None
            if root != self.project:
                from .corpus import corpus_store

                store = corpus_store(root)
            self._indexes[root] = ProjectIndex(root, self.embedder, store=store or default_store(root))
        return self._indexes[root]

    def roots(self) -> list[tuple[Path, str]]:
        out = [(self.project, "")] if self.project else []
        return out + [(c, c.name) for c in self.corpora if c != self.project]

    def refresh(self, force: bool = False) -> None:
        """Bring notebook cells and indexes up to date (cheap when nothing changed)."""
        with self._lock:
            if not force and time.monotonic() - self._refreshed < self.refresh_every:
                return
            if self.shell is not None or self._notebook_path is not None:
                if self._notebook is None:
                    from .notebook import NotebookSource

                    self._notebook = NotebookSource(self.shell, self.embedder, self._notebook_path)
                self._notebook.refresh()
            for root, _ in self.roots():
                ix = self.index_for(root)
                if not ix.exists() and root not in self._skipped:
                    n = len(ix.scan())
                    if n > self.auto_index_limit:
                        self._skipped.add(root)
                        self.say(f"smallcode: {root} has {n} files; run `%smallcode index {root}` to use it")
                        continue
                if ix.exists() or root not in self._skipped:
                    stats = ix.update()
                    if stats.rebuilt or stats.changed:
                        self.say(f"smallcode: indexed {root}: {stats.describe()}")
            self._refreshed = time.monotonic()

    # -- retrieval -------------------------------------------------------------------------------
    def _query_vector(self, query: str) -> Vectors:
        if self._qcache is None or self._qcache[0] != query:
            self._qcache = (query, self.embedder.embed([query])[0])
        return self._qcache[1]

    def _sources(self) -> list[tuple[ChunkSource, str]]:
        out: list[tuple[ChunkSource, str]] = []
        if self._notebook is not None:
            out.append((self._notebook, ""))
        for root, label in self.roots():
            ix = self.index_for(root)
            if ix.exists():
                out.append((ix, label))
        return out

    def hits(self, query: str, k: int = 8) -> list[Hit]:
        """Ranked candidates with the reason each was chosen (what ``retrieve`` returns, unpacked)."""
        import numpy as np

        with self._lock:
            self.refresh()
            sources = [(s, label) for s, label in self._sources() if s.chunks]
            if not sources or not query.strip():
                return []  # nothing indexed: do not even load the embedder
            qv = self._query_vector(query)
            names = named_symbols(query)
            cells = {int(n) for n in _CELL_REF.findall(query)}
            named: list[tuple[bool, Hit]] = []
            for src, label in sources:
                defs = list(src.defining(names)) if names else []
                if cells and src is self._notebook and self._notebook is not None:
                    defs += [c for c in self._notebook.chunks if c.path == "In" and c.cell in cells]
                if defs:
                    sims = src.vectors_for(defs) @ qv
                    for c, s in zip(defs, sims.tolist(), strict=True):
                        # the definition itself beats a class that merely contains it
                        exact = c.symbol.rsplit(".", 1)[-1] in names or (c.path == "In" and c.cell in cells)
                        named.append((exact, Hit(c, float(s), src, label, "named")))
            named.sort(key=lambda eh: (not eh[0], -eh[1].score))
            pinned = _dedupe([h for _, h in named])[:k]
            pool: list[Hit] = []
            for src, label in sources:
                boost = 0.05 if src is self._notebook else 0.0
                for c, s in src.search(qv, k * 4):
                    if s + boost >= self.min_score and not any(
                        _overlaps(c, p.chunk) and label == p.label for p in pinned
                    ):
                        pool.append(
                            Hit(c, s + boost, src, label, "cell" if src is self._notebook else "similar")
                        )
            # Keep only what is about as relevant as the best match: a 0.5B model copies from
            # whatever it is shown, so a weak sixth snippet does more harm than good.
            top = max([h.score for h in pinned + pool], default=0.0)
            pool = [h for h in _dedupe(pool) if h.score >= top - self.relative]
            room = min(k - len(pinned), self.extra_when_named if pinned else k)
            if pool and room > 0:
                vecs = np.concatenate([h.origin.vectors_for([h.chunk]) for h in pool])
                picked = [pool[i] for i in mmr(pool, vecs, room, self.mmr_lambda)]
            else:
                picked = []
            return pinned + picked

    def retrieve(self, query: str, k: int = 8) -> list[Snippet]:
        """Best-first snippets for ``query`` (the ContextProvider interface).

        A failing index (disk full, a broken embedder install) costs the run its context, never
        the run itself: the error is reported and the model works without snippets.
        """
        try:
            return [h.snippet() for h in self.hits(query, k)]
        except Exception as e:
            self.say(f"smallcode: retrieval failed, continuing without context: {type(e).__name__}: {e}")
            return []


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """Drop identical texts and chunks overlapping a better one (keeps order)."""
    out: list[Hit] = []
    texts: set[str] = set()
    for h in hits:
        t = h.chunk.text.strip()
        if t in texts or any(_overlaps(h.chunk, o.chunk) and h.label == o.label for o in out):
            continue
        texts.add(t)
        out.append(h)
    return out


def project_retriever(
    path: str | Path | None = None,
    shell: Shell = None,
    corpora: Iterable[str | Path] = (),
    say: Callable[[str], None] | None = None,
) -> Retriever | None:
    """A retriever for ``path``, or for the current folder only if it was indexed before.

    WHY: running ``smallcode ask`` in a home directory must not start embedding it; an explicit
    ``--project`` (or ``smallcode index``) is the opt-in.
    """
    from .index import default_store
    from .notebook import notebook_path

    nb = notebook_path(shell) if shell is not None and path is None else None
    if nb is not None:
        path = nb.parent
    if path is None:
        cwd = Path.cwd().resolve()
        path = cwd if (default_store(cwd) / "manifest.json").exists() else None
    corpora = list(corpora)
    if path is None and not corpora and shell is None:
        return None
    return Retriever(path, corpora, shell=shell, say=say)
