"""Which files of a folder are worth indexing.

Honours ``.gitignore`` files (at every level, with pathspec's gitwildmatch rules) and always
skips version control, virtual environments, ``node_modules``, caches, data files, binaries and
anything over a size limit: the index is for code and prose a model can imitate, not for data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

MAX_BYTES = 512 * 1024

_TOOL_DIRS = {".git", ".hg", ".svn", ".smallcode", ".idea", ".vscode"}
_ENV_DIRS = {".venv", "venv", "env", ".env", ".tox", ".nox", "node_modules", "site-packages", ".eggs"}
_CACHE_DIRS = {"__pycache__", ".ipynb_checkpoints", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
SKIP_DIRS = _TOOL_DIRS | _ENV_DIRS | _CACHE_DIRS | {"build", "dist", "data", "datasets"}
_CODE_EXTS = {".py", ".pyi", ".ipynb", ".sh", ".sql", ".r", ".jl"}
_WEB_EXTS = {".js", ".ts", ".tsx", ".jsx", ".css", ".html"}
_NATIVE_EXTS = {".c", ".h", ".cpp", ".hpp", ".rs", ".go", ".java"}
_PROSE_EXTS = {".md", ".markdown", ".rst", ".txt", ".toml", ".cfg", ".ini", ".yaml", ".yml", ".json"}
TEXT_EXTS = _CODE_EXTS | _WEB_EXTS | _NATIVE_EXTS | _PROSE_EXTS
TEXT_NAMES = {"Makefile", "Dockerfile", "README", "LICENSE"}
MAX_JSON_BYTES = 32 * 1024  # small JSON is config; big JSON is data


def _is_venv(d: Path) -> bool:
    return (d / "pyvenv.cfg").exists() or (d / "conda-meta").is_dir()


def looks_binary(path: Path) -> bool:
    """A NUL byte in the first 8 KiB: the usual heuristic (git's too)."""
    try:
        with open(path, "rb") as f:
            return b"\0" in f.read(8192)
    except OSError:
        return True


def wanted(path: Path, max_bytes: int = MAX_BYTES) -> bool:
    """Is this file text we can chunk, small enough to be code rather than data?"""
    if path.suffix.lower() not in TEXT_EXTS and path.name not in TEXT_NAMES:
        return False
    try:
        size = path.stat().st_size
    except OSError:
        return False
    limit = MAX_JSON_BYTES if path.suffix.lower() == ".json" else max_bytes
    return 0 < size <= limit and not looks_binary(path)


class _Spec(Protocol):
    """One .gitignore file's rules: pathspec's PathSpec, or :class:`_SimpleSpec` without it."""

    def match_file(self, file: str) -> bool: ...


class _Ignores:
    """The .gitignore rules that apply under one directory, innermost last."""

    def __init__(self) -> None:
        self.specs: list[tuple[Path, _Spec]] = []

    def child(self, d: Path) -> _Ignores:
        gi = d / ".gitignore"
        if not gi.is_file():
            return self
        try:
            lines = gi.read_text(errors="replace").splitlines()
        except OSError:
            return self
        try:
            import pathspec

            try:
                spec: _Spec = pathspec.PathSpec.from_lines("gitignore", lines)
            except (KeyError, LookupError):  # pathspec < 0.12 knows only "gitwildmatch"
                spec = pathspec.PathSpec.from_lines("gitwildmatch", lines)
        except ImportError:
            spec = _SimpleSpec(lines)
        new = _Ignores()
        new.specs = [*self.specs, (d, spec)]
        return new

    def ignored(self, path: Path, is_dir: bool) -> bool:
        for base, spec in self.specs:
            rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
            if spec.match_file(rel):
                return True
        return False


class _SimpleSpec:
    """A fallback for plain .gitignore patterns when pathspec is not installed (no negation)."""

    def __init__(self, lines: list[str]) -> None:
        self.patterns = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith(("#", "!"))]

    def match_file(self, file: str) -> bool:
        import fnmatch

        is_dir = file.endswith("/")
        rel = file.rstrip("/")
        for pat in self.patterns:
            dir_only, pat = pat.endswith("/"), pat.strip("/") if pat != "/" else pat
            if dir_only and not is_dir:
                continue
            anchored = "/" in pat
            if fnmatch.fnmatch(rel if anchored else rel.rsplit("/", 1)[-1], pat.replace("**/", "*")):
                return True
        return False


def walk(root: Path, max_bytes: int = MAX_BYTES) -> Iterator[Path]:
    """Files under ``root`` worth indexing, in a stable order."""
    root = Path(root)
    if root.is_file():
        if wanted(root, max_bytes):
            yield root
        return
    yield from _walk(root, _Ignores().child(root), max_bytes)


def _walk(d: Path, ignores: _Ignores, max_bytes: int) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(d), key=lambda e: e.name)
    except OSError:
        return
    for e in entries:
        p = Path(e.path)
        if e.is_symlink():
            continue
        if e.is_dir():
            if e.name in SKIP_DIRS or e.name.endswith(".egg-info") or _is_venv(p) or ignores.ignored(p, True):
                continue
            yield from _walk(p, ignores.child(p), max_bytes)
        elif e.is_file() and not ignores.ignored(p, False) and wanted(p, max_bytes):
            yield p
