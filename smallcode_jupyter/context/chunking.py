"""Split files into retrievable chunks that respect their structure.

Python by AST (functions with their decorators, classes with their methods, module-level
blocks), notebooks by cell, Markdown by heading, anything else by bounded line windows with
overlap. Every chunk keeps its file, line range and enclosing class, so the model (and the user)
see exactly where a snippet comes from. A file that does not parse is skipped with a warning:
one broken file must never stop indexing a project.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypedDict

MAX_LINES = 80  # a chunk longer than this is split (a 0.5B model cannot use a 300-line class)
WINDOW, OVERLAP = 40, 10  # plain text windows


class ChunkWarning(UserWarning):
    """A file was skipped or only partly chunked (e.g. a syntax error)."""


class _ChunkPlace(TypedDict):
    text: str
    path: str
    start: int
    end: int


class ChunkJSON(_ChunkPlace, total=False):
    """A chunk as the index manifest stores it (older manifests may lack the optional keys)."""

    kind: str
    symbol: str
    names: list[str]
    cell: int


@dataclass(frozen=True)
class Chunk:
    """A piece of a file: its text, where it is, and the names it defines."""

    text: str
    path: str  # relative to the indexed root ("In" for the kernel's history)
    start: int  # first line, 1-based (for cells: first line within the cell)
    end: int  # last line, inclusive
    kind: str = "text"  # function, class, method, module, cell, section, text
    symbol: str = ""  # qualified name ("Config.load") or heading
    names: tuple[str, ...] = field(default_factory=tuple)  # names defined inside (for lookup by name)
    cell: int | None = None  # notebook cell index / execution count

    @property
    def id(self) -> str:
        """Stable identity: same file, symbol and text -> same id, so unchanged chunks keep
        their vectors when lines around them move."""
        h = hashlib.sha1(f"{self.path}\0{self.symbol}\0{self.text}".encode(), usedforsecurity=False)
        return h.hexdigest()[:16]

    @property
    def source(self) -> str:
        """Provenance as shown to the user: ``file:line-line``, ``nb.ipynb:cell3`` or ``In[5]``."""
        if self.path == "In":
            return f"In[{self.cell}]"
        if self.cell is not None:
            return f"{self.path}:cell{self.cell}"
        return f"{self.path}:{self.start}" + (f"-{self.end}" if self.end != self.start else "")

    def to_json(self) -> ChunkJSON:
        d: ChunkJSON = {
            "text": self.text,
            "path": self.path,
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "symbol": self.symbol,
            "names": list(self.names),
        }
        if self.cell is not None:
            d["cell"] = self.cell
        return d

    @classmethod
    def from_json(cls, d: ChunkJSON) -> Chunk:
        return cls(
            d["text"],
            d["path"],
            d["start"],
            d["end"],
            d.get("kind", "text"),
            d.get("symbol", ""),
            tuple(d.get("names", ())),
            d.get("cell"),
        )


def embed_text(chunk: Chunk) -> str:
    """What the embedder sees: the location and the names split into words, then the code.

    WHY: MiniLM reads English; ``read_settings`` or ``ConfigLoader`` are single opaque tokens
    to it, while "read settings" / "config loader" match a paraphrased query.
    """
    words = " ".join(split_identifier(n) for n in (chunk.symbol, *chunk.names[:6]) if n)
    head = f"{chunk.kind} {words} in {chunk.path}".strip()
    return f"{head}\n{chunk.text}"


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def split_identifier(name: str) -> str:
    """``Config.read_settings`` -> ``config read settings``; ``HTTPServer`` stays one word."""
    parts = re.split(r"[._\W]+", name)
    return " ".join(p.lower() for part in parts for p in _CAMEL.split(part) if p)


# -- Python ---------------------------------------------------------------------------------------


def _defined_names(node: ast.AST, prefix: str = "") -> list[str]:
    names = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(prefix + child.name)
            if isinstance(child, ast.ClassDef):
                names += _defined_names(child, prefix + child.name + ".")
    return names


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _start(node: ast.stmt) -> int:
    """First line of a statement, its decorators included."""
    decos: list[ast.expr] = getattr(node, "decorator_list", [])
    return min([d.lineno for d in decos] + [node.lineno])


def _windows(
    lines: list[str], start: int, end: int, size: int = MAX_LINES, overlap: int = OVERLAP
) -> Iterator[tuple[int, int]]:
    """(first, last) 1-based line ranges covering start..end in windows of ``size``."""
    if end - start + 1 <= size:
        yield start, end
        return
    s = start
    while True:
        e = min(s + size - 1, end)
        yield s, e
        if e >= end:
            return
        s = e + 1 - overlap


def _span(lines: list[str], a: int, b: int) -> str:
    return "\n".join(lines[a - 1 : b])


def chunk_python(text: str, path: str) -> list[Chunk]:
    """Functions, classes (whole if short, else a header plus one chunk per method, recursively
    for nested classes) and module-level blocks. Syntax errors: warn and return nothing."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as e:
        line = getattr(e, "lineno", None)
        warnings.warn(
            f"{path}: not valid Python ({e.__class__.__name__}{f' at line {line}' if line else ''}); skipped",
            ChunkWarning,
            stacklevel=2,
        )
        return []
    lines = text.splitlines()
    out: list[Chunk] = []
    _python_body(tree.body, lines, path, "", out)
    return out


def _python_body(body: list[ast.stmt], lines: list[str], path: str, cls: str, out: list[Chunk]) -> None:
    block: list[ast.stmt] = []

    def flush() -> None:
        if not block:
            return
        a, b = _start(block[0]), block[-1].end_lineno or block[-1].lineno
        for s, e in _windows(lines, a, b):
            chunk_text = _span(lines, s, e)
            if chunk_text.strip():
                out.append(Chunk(chunk_text, path, s, e, "module" if not cls else "class", cls))
        block.clear()

    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            flush()
            name = f"{cls}.{node.name}" if cls else node.name
            kind = "method" if cls else "function"
            a, b = _start(node), node.end_lineno or node.lineno
            for s, e in _windows(lines, a, b):
                out.append(Chunk(_span(lines, s, e), path, s, e, kind, name, tuple(_defined_names(node))))
        elif isinstance(node, ast.ClassDef):
            flush()
            name = f"{cls}.{node.name}" if cls else node.name
            a, b = _start(node), node.end_lineno or node.lineno
            names = tuple(f"{name}.{n}" for n in _defined_names(node))
            if b - a + 1 <= MAX_LINES:
                out.append(Chunk(_span(lines, a, b), path, a, b, "class", name, names))
                continue
            # A long class: its header (bases, docstring, attributes) and then its members.
            first_def = next((c for c in node.body if isinstance(c, _DEFINITIONS)), None)
            head_end = (_start(first_def) - 1) if first_def else b
            head_end = min(head_end, a + MAX_LINES - 1)
            out.append(Chunk(_span(lines, a, head_end), path, a, head_end, "class", name, names))
            members = node.body[node.body.index(first_def) :] if first_def else []
            _python_body(members, lines, path, name, out)
        else:
            block.append(node)
            if (node.end_lineno or node.lineno) - _start(block[0]) + 1 >= MAX_LINES:
                flush()
    flush()


# -- notebooks, Markdown, text ----------------------------------------------------------------------

_MAGIC_LINE = re.compile(r"^\s*[%!]")


def cell_names(source: str) -> tuple[str, ...]:
    """Top-level names a code cell defines (functions, classes, assignments), best effort."""
    code = "\n".join("" if _MAGIC_LINE.match(line) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return ()
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names += [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"]
    return tuple(dict.fromkeys(names))


def chunk_cells(cells: Iterable[tuple[int, str, str]], path: str) -> list[Chunk]:
    """One chunk per non-empty cell; ``cells`` yields (index, cell_type, source)."""
    out = []
    for i, kind, source in cells:
        if not source.strip():
            continue
        n = source.count("\n") + 1
        for s, e in _windows(source.splitlines(), 1, n):
            text = "\n".join(source.splitlines()[s - 1 : e])
            names = cell_names(text) if kind == "code" else ()
            out.append(Chunk(text, path, s, e, "cell" if kind == "code" else "section", "", names, i))
    return out


def _cell_source(cell: dict[str, Any]) -> str:
    """A cell's source from notebook JSON: one string, or a list of lines to join."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def chunk_notebook(text: str, path: str) -> list[Chunk]:
    """Cells of an .ipynb file (read as JSON, so no nbformat validation cost)."""
    try:
        nb = json.loads(text)
        cells = [(i, c.get("cell_type", "code"), _cell_source(c)) for i, c in enumerate(nb.get("cells", []))]
    except (ValueError, AttributeError, TypeError) as e:
        warnings.warn(f"{path}: not a readable notebook ({e}); skipped", ChunkWarning, stacklevel=2)
        return []
    return chunk_cells([c for c in cells if c[1] in ("code", "markdown")], path)


_HEADING = re.compile(r"^#{1,6}\s+(.*)")


def chunk_markdown(text: str, path: str) -> list[Chunk]:
    """One chunk per heading section (headings inside code fences do not count)."""
    lines = text.splitlines()
    starts, titles, fenced = [1], [""], False
    for i, line in enumerate(lines, 1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        m = None if fenced else _HEADING.match(line)
        if m and i > 1:
            starts.append(i)
            titles.append(m.group(1).strip())
        elif m:
            titles[0] = m.group(1).strip()
    out = []
    for j, a in enumerate(starts):
        b = (starts[j + 1] - 1) if j + 1 < len(starts) else len(lines)
        for s, e in _windows(lines, a, b, size=60):
            t = _span(lines, s, e)
            if t.strip():
                out.append(Chunk(t, path, s, e, "section", titles[j]))
    return out


def chunk_text(text: str, path: str, window: int = WINDOW, overlap: int = OVERLAP) -> list[Chunk]:
    """Bounded line windows with overlap, for any other text file."""
    lines = text.splitlines()
    return [
        Chunk(_span(lines, s, e), path, s, e, "text")
        for s, e in _windows(lines, 1, len(lines), window, overlap)
        if _span(lines, s, e).strip()
    ]


def chunk_file(text: str, path: str) -> list[Chunk]:
    """Dispatch on the file's extension."""
    low = path.lower()
    if low.endswith((".py", ".pyi")):
        return chunk_python(text, path)
    if low.endswith(".ipynb"):
        return chunk_notebook(text, path)
    if low.endswith((".md", ".markdown", ".rst")):
        return chunk_markdown(text, path)
    return chunk_text(text, path)
