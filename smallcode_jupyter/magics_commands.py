"""What ``%smallcode status|models|index|context|corpus`` print: each asks the session, then prints.

The magics parse and dispatch (:mod:`.magics`); these functions hold the wording users see.
Messages go to stdout, problems to stderr prefixed ``smallcode:``.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from .session import Session


def _error(message: str) -> None:
    print(f"smallcode: {message}", file=sys.stderr)


def status(session: Session) -> None:
    """The model (resolved or not, loaded or not), memory, Edge Mode and the sandbox's layers."""
    from .status import memory_line, sandbox_layers, server_lines

    loaded = session.loaded()
    if session.is_server():
        for line in server_lines(session):
            print(line)
    elif session.resolved() is None and not loaded:
        print(f"model: {session.config.model} (not loaded yet; loads on first use)")
    else:
        r = session.resolve()
        print(
            f"model: {r.name} ({r.info.params_b or 0:.2f}B, {r.info.architecture}) from {r.source}: {r.path}"
        )
        for m in loaded:
            print(
                f"loaded: n_ctx={m.n_ctx}, threads={m.n_threads}, chat format={m.chat_format}, "
                f"load {m.load_seconds:.1f} s"
            )
    print(memory_line())
    if not session.is_server():
        print(server_lines(session)[-1])  # whether a shared model service is running
    print(f"edge mode: {'on' if session.config.edge else 'off'}")
    for line in sandbox_layers():
        print(line)


def models(session: Session) -> None:
    """Every preset, its size and where it stands here; ``*`` marks the session's model."""
    for row in session.models():
        print(f"{'*' if row.current else ' '} {row.name:<22} {row.params_b:>5.2f}B  {row.state}")


def index(session: Session, path: Path) -> bool:
    """Index (or update) ``path`` with a progress bar and print what changed; False if it is
    not a folder."""
    try:
        ix, stats = session.index(path)
    except FileNotFoundError as e:
        _error(str(e))
        return False
    print(f"{ix.root}: {stats.describe()}; {ix.size_bytes() / 2**20:.1f} MB in {ix.store}")
    return True


def context(session: Session, query: str, k: int = 8) -> None:
    """What retrieval would give the model for ``query``: source, score, reason, preview, and
    (once a model is loaded) whether each snippet fits the context budget."""
    query = query.strip()
    if len(query) >= 2 and query[0] == query[-1] and query[0] in "\"'":
        query = query[1:-1]
    if not query:
        print('usage: %smallcode context "<query>"', file=sys.stderr)
        return
    hits = session.hits(query, k)
    if not hits:
        print("no context: nothing indexed matches (see `%smallcode index PATH`)")
        return
    loaded = session.loaded()
    budget = session.settings().context_budget if session.resolved() is not None else 0
    count_tokens = loaded[0].count_tokens if loaded and budget else None
    used = 0
    for h in hits:
        s = h.snippet()
        mark = ""
        if count_tokens is not None:
            cost = count_tokens(s.text) + 8
            fits = used + cost <= budget
            mark = "  [fits]" if fits else "  [over budget]"
            used += cost if fits else 0
        print(f"{s.score:6.3f}  {s.source}  {h.chunk.symbol or h.chunk.kind} ({h.why}){mark}")
        lines = s.text.strip().splitlines()
        for ln in lines[:2] + (["..."] if len(lines) > 2 else []):
            print(f"        {ln}")


def corpus(session: Session, arg: str) -> None:
    """``add PATH`` (register and index) / ``list`` / ``remove PATH``."""
    words = shlex.split(arg) or ["list"]
    action, rest = words[0], " ".join(words[1:])
    if action == "list":
        found = session.corpora()
        if not found:
            print("no corpora; add one with `%smallcode corpus add PATH`")
        for p, indexed in found:
            print(f"{p}{'' if indexed else '  (not indexed yet)'}")
    elif action == "add" and rest:
        try:
            p, stats = session.add_corpus(rest)
        except FileNotFoundError as e:
            _error(str(e))
            return
        print(f"corpus {p}: {stats.describe()}")
    elif action == "remove" and rest:
        if session.remove_corpus(rest):
            print(f"removed {rest}")
        else:
            _error(f"{rest} is not a corpus")
    else:
        print("usage: %smallcode corpus add PATH | list | remove PATH", file=sys.stderr)
