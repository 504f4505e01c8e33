"""Corpora: other folders (a cloned repo, a team's utilities) whose helpers and style to imitate.

The list lives in ``$SMALLCODE_HOME/corpora.json`` (default ``~/.cache/smallcode``), so it holds
across kernels; each corpus's index lives in that folder too, never inside someone else's clone.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("SMALLCODE_HOME") or Path.home() / ".cache" / "smallcode")


def _registry() -> Path:
    return home() / "corpora.json"


def list_corpora() -> list[Path]:
    """The registered corpus folders, in the order they were added."""
    try:
        return [Path(p) for p in json.loads(_registry().read_text())]
    except (OSError, ValueError, TypeError):
        return []


def _write(paths: list[Path]) -> None:
    reg = _registry()
    reg.parent.mkdir(parents=True, exist_ok=True)
    tmp = reg.with_suffix(".tmp")
    tmp.write_text(json.dumps([str(p) for p in paths], indent=1))
    os.replace(tmp, reg)


def add_corpus(path: str | Path) -> Path:
    """Register a folder (absolute, resolved). Raises FileNotFoundError if it does not exist."""
    p = Path(path).expanduser().resolve()
    if not p.is_dir():
        raise FileNotFoundError(f"no such folder: {p}")
    paths = list_corpora()
    if p not in paths:
        _write([*paths, p])
    return p


def remove_corpus(path: str | Path) -> bool:
    """Unregister a folder (by path or by its name) and delete its index. False if unknown."""
    paths = list_corpora()
    p = Path(path).expanduser()
    match = [q for q in paths if q == p.resolve() or q.name == str(path)]
    if not match:
        return False
    _write([q for q in paths if q not in match])
    import shutil

    for q in match:
        shutil.rmtree(corpus_store(q), ignore_errors=True)
    return True


def corpus_store(root: Path) -> Path:
    """Where a corpus's index lives (outside the corpus)."""
    digest = hashlib.sha1(str(root).encode(), usedforsecurity=False).hexdigest()[:12]
    return home() / "corpora" / f"{root.name or 'root'}-{digest}"
