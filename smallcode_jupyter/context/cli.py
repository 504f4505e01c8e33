"""``smallcode index PATH`` and ``smallcode search "<query>" [PATH]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``index`` and ``search`` subcommands."""
    i = sub.add_parser("index", help="index a folder for retrieval (incremental; .smallcode/ inside it)")
    i.add_argument("path", nargs="?", default=".", type=Path)
    i.add_argument("--rebuild", action="store_true", help="discard the stored index and embed everything")
    i.add_argument("--embedder", choices=["minilm", "hash"], default="minilm")
    i.set_defaults(func=cmd_index)
    s = sub.add_parser("search", help="what retrieval returns for a query (file:line, score, preview)")
    s.add_argument("query")
    s.add_argument("path", nargs="?", default=".", type=Path)
    s.add_argument("-k", type=int, default=5)
    s.add_argument("--full", action="store_true", help="print whole snippets, not previews")
    s.add_argument("--embedder", choices=["minilm", "hash"], default="minilm")
    s.set_defaults(func=cmd_search)


class ChunkBar:
    """A tqdm bar of chunks embedded, created only when there is something to embed."""

    def __init__(self, desc: str, out=sys.stderr) -> None:
        self.desc, self.out, self.bar = desc, out, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="chunk", file=self.out)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def index_folder(path: Path, rebuild: bool = False, embedder: str = "minilm", out=sys.stderr):
    """Index ``path`` with a progress bar on ``out``; returns (index, stats)."""
    from .embedder import get_embedder
    from .index import ProjectIndex

    ix = ProjectIndex(path, get_embedder(embedder))
    bar = ChunkBar(f"indexing {ix.root.name}", out)
    try:
        stats = ix.update(progress=bar, rebuild=rebuild)
    finally:
        bar.close()
    return ix, stats


def cmd_index(args: argparse.Namespace) -> int:
    if not args.path.exists():
        print(f"smallcode: no such folder: {args.path}", file=sys.stderr)
        return 2
    ix, stats = index_folder(args.path, args.rebuild, args.embedder)
    print(f"{ix.root}: {stats.describe()}; {ix.size_bytes() / 2**20:.1f} MB in {ix.store}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from .embedder import get_embedder
    from .retriever import Retriever

    r = Retriever(args.path, embedder=get_embedder(args.embedder), auto_index_limit=10**9)
    hits = r.hits(args.query, args.k)
    if not hits:
        print("nothing relevant found", file=sys.stderr)
        return 1
    for h in hits:
        s = h.snippet()
        print(f"{s.score:6.3f}  {s.source}  {h.chunk.symbol or h.chunk.kind}  ({h.why})")
        lines = s.text.splitlines()
        body = lines if args.full else lines[:3] + (["    ..."] if len(lines) > 3 else [])
        print("\n".join(f"        {ln}" for ln in body))
    return 0
