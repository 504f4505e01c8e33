"""What ``%smallcode index|context|corpus`` do; the magic only parses and forwards."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from .corpus import add_corpus, corpus_store, list_corpora, remove_corpus


def index(path: Path) -> None:
    """Index (or update) ``path`` with a progress bar and print what changed."""
    from .cli import index_folder

    if not path.exists():
        print(f"smallcode: no such folder: {path}", file=sys.stderr)
        return
    ix, stats = index_folder(path)
    print(f"{ix.root}: {stats.describe()}; {ix.size_bytes() / 2**20:.1f} MB in {ix.store}")


def show_context(retriever: Any, query: str, k: int = 8, count_tokens: Any = None, budget: int = 0) -> None:
    """Print what retrieval would give the model for ``query``: source, score, reason, preview."""
    query = query.strip()
    if len(query) >= 2 and query[0] == query[-1] and query[0] in "\"'":
        query = query[1:-1]
    if not query:
        print('usage: %smallcode context "<query>"', file=sys.stderr)
        return
    hits = retriever.hits(query, k) if retriever is not None else []
    if not hits:
        print("no context: nothing indexed matches (see `%smallcode index PATH`)")
        return
    used = 0
    for h in hits:
        s = h.snippet()
        mark = ""
        if count_tokens is not None and budget:
            cost = count_tokens(s.text) + 8
            mark = "  [fits]" if used + cost <= budget else "  [over budget]"
            used += cost if used + cost <= budget else 0
        print(f"{s.score:6.3f}  {s.source}  {h.chunk.symbol or h.chunk.kind} ({h.why}){mark}")
        lines = s.text.strip().splitlines()
        for ln in lines[:2] + (["..."] if len(lines) > 2 else []):
            print(f"        {ln}")


def corpus(arg: str) -> bool:
    """``add PATH`` / ``list`` / ``remove PATH``; True when the set of corpora changed."""
    words = shlex.split(arg) or ["list"]
    action, rest = words[0], " ".join(words[1:])
    if action == "list":
        paths = list_corpora()
        if not paths:
            print("no corpora; add one with `%smallcode corpus add PATH`")
        for p in paths:
            indexed = (corpus_store(p) / "manifest.json").exists()
            print(f"{p}{'' if indexed else '  (not indexed yet)'}")
        return False
    if action == "add" and rest:
        try:
            p = add_corpus(rest)
        except FileNotFoundError as e:
            print(f"smallcode: {e}", file=sys.stderr)
            return False
        from .cli import ChunkBar
        from .embedder import get_embedder
        from .index import ProjectIndex

        ix = ProjectIndex(p, get_embedder(), store=corpus_store(p))
        bar = ChunkBar(f"indexing {p.name}")
        try:
            stats = ix.update(progress=bar)
        finally:
            bar.close()
        print(f"corpus {p}: {stats.describe()}")
        return True
    if action == "remove" and rest:
        ok = remove_corpus(rest)
        print(
            f"removed {rest}" if ok else f"smallcode: {rest} is not a corpus",
            file=sys.stdout if ok else sys.stderr,
        )
        return ok
    print("usage: %smallcode corpus add PATH | list | remove PATH", file=sys.stderr)
    return False
