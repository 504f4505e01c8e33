"""``smallcode models [list | fetch NAME | verify NAME]``: the presets, where each would come
from here, and fetching or checking one."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..loop.settings import settings_for
from ..models.catalog import PRESETS
from ..models.store import default_cache_dir, sha256_file
from .options import session_for

if TYPE_CHECKING:
    from .options import Subparsers


def add_parser(sub: Subparsers) -> None:
    """Register ``smallcode models``."""
    m = sub.add_parser(
        "models",
        help="list, fetch or verify models",
        description="List the model presets, or fetch one into the cache, or verify its sha256.",
    )
    m.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=["list", "fetch", "verify"],
        help="list the presets (default), fetch one, or fetch and verify one",
    )
    m.add_argument("name", nargs="?", help="preset name, .gguf path or hf:owner/repo/file.gguf")
    m.set_defaults(func=cmd_models)


def cmd_models(args: argparse.Namespace) -> int:
    session = session_for(args)
    if args.action == "list":
        print(f"{'name':<22} {'params':>7}  {'n_ctx':>6}  {'cands':>5}  {'iters':>5}  available")
        for row in session.models():
            if row.name not in PRESETS:  # a server's model, or a file
                print(
                    f"{row.name:<22} {row.params_b:>6.2f}B  {'':>6}  {'':>5}  {'':>5}  {row.state}  {row.spec}"
                )
                continue
            preset = PRESETS[row.name]
            s = settings_for(preset.params_b, preset.n_ctx_train)
            default = " (default)" if row.current else ""
            cands = f"{s.candidates}/{s.vote_candidates or s.candidates}"
            iters = f"{s.max_iters}/{s.max_iters if s.vote_repairs is None else s.vote_repairs}"
            print(
                f"{row.name:<22} {row.params_b:>6.2f}B  {s.n_ctx:>6}  {cands:>5}  {iters:>5}  "
                f"{row.state}{default}"
            )
        print("cands/iters: candidates and repair rounds for a task / for a function with examples")
        print(f"cache: {args.cache_dir or default_cache_dir()}")
        return 0
    if not args.name:
        print(f"smallcode models {args.action} needs a model name", file=sys.stderr)
        return 2
    if session.is_server(args.name):
        print(session.describe(args.name))
        return 0
    r = session.resolve(args.name)
    print(f"{r.name}: {r.path} (from {r.source}, {r.path.stat().st_size / 2**20:.0f} MB)")
    if args.action == "verify":
        bar = session.progress("sha256")
        try:
            digest = sha256_file(r.path, progress=bar)
        finally:
            bar.close()
        want = r.preset.sha256 if r.preset else None
        ok = want is None or want == digest
        verdict = "(no reference)" if want is None else "OK" if ok else f"MISMATCH, expected {want}"
        print(f"sha256 {digest} {verdict}")
        print(f"GGUF: {r.info.architecture}, {r.info.params_b or 0:.2f}B, context {r.info.context_length}")
        return 0 if ok else 1
    return 0
