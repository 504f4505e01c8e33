"""``smallcode index PATH`` and ``smallcode search "<query>" [PATH]``: build a folder's retrieval
index, and see what retrieval returns for a query."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .options import session_for

if TYPE_CHECKING:
    from .options import Subparsers

EMBEDDERS = ["minilm", "hash"]


def add_parser(sub: Subparsers) -> None:
    """Register ``smallcode index`` and ``smallcode search``."""
    i = sub.add_parser(
        "index",
        help="index a folder for retrieval (incremental; .smallcode/ inside it)",
        description="Index a folder for retrieval; only files changed since the last run are embedded.",
    )
    _add_folder(i)
    i.add_argument("--rebuild", action="store_true", help="discard the stored index and embed everything")
    i.set_defaults(func=cmd_index)
    s = sub.add_parser(
        "search",
        help="what retrieval returns for a query (file:line, score, preview)",
        description="Show what retrieval finds in a folder for a query: score, file:line, symbol, why.",
    )
    s.add_argument("query", help="the query, e.g. a task or a helper's name")
    _add_folder(s)
    s.add_argument("-k", type=int, default=5, help="how many snippets (default: %(default)s)")
    s.add_argument("--full", action="store_true", help="print whole snippets, not previews")
    s.set_defaults(func=cmd_search)


def _add_folder(p: argparse.ArgumentParser) -> None:
    """The folder argument and the embedder choice that ``index`` and ``search`` share."""
    p.add_argument("path", nargs="?", default=".", type=Path, help="the folder (default: the current one)")
    p.add_argument(
        "--embedder",
        choices=EMBEDDERS,
        default="minilm",
        help="minilm (semantic, default) or hash (lexical, no torch)",
    )


def cmd_index(args: argparse.Namespace) -> int:
    try:
        ix, stats = session_for(args).index(args.path, args.rebuild, args.embedder)
    except FileNotFoundError as e:
        print(f"smallcode: {e}", file=sys.stderr)
        return 2
    print(f"{ix.root}: {stats.describe()}; {ix.size_bytes() / 2**20:.1f} MB in {ix.store}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    hits = session_for(args).search(args.query, args.path, args.k, args.embedder)
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
