"""The notebook's live variables as context: a short, budgeted text the model reads.

A small model invents data it cannot see (``sales = [{'amount': 100, ...}]`` over the user's real
list), so the loop shows it the variables a request refers to: a DataFrame's columns and first
rows, a list's element types and two items, a helper's signature and source.

This runs inside the user's kernel, on the user's objects, so it must never run user code: no
``repr``/``str``/``len``/iteration/attribute access that could reach a method the user defined.
Everything is decided on ``type(obj)`` (which ``__class__`` tricks cannot fake), builtin
containers are walked with their own (exact-type) methods, pandas and numpy objects are read
only when their type is the library's own, and attributes of classes and modules are read
through ``type``'s and ``ModuleType``'s descriptors, past any metaclass. Anything else is shown
by its type name. pandas and numpy are never imported here: if the user has not imported them,
no object of theirs can be in the namespace.
"""

from __future__ import annotations

import ast
import re
import time
import types
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .entries import _entry, _parse, _Sources
from .saferepr import (
    _LINE_MAX,
    _MIN_ENTRY,
    _MODULES_MAX,
    _NOTE_RESERVE,
    _STOPWORDS,
    IPYTHON_NAMES,
    MAX_NAMES,
    _clip,
    _is_module,
    _is_notebook_type,
    _module_name,
    _tdict,
    safe_repr,  # re-exported: part of this module's API
    type_name,
)

__all__ = ["IPYTHON_NAMES", "MAX_NAMES", "describe", "module_aliases", "referenced_names", "safe_repr"]

# --- referenced_names ----------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BACKTICK = re.compile(r"`([^`\n]+)`")
_CONTRACTION_TAILS = frozenset({"s", "t", "d", "m", "ll", "re", "ve"})


def _eligible(name: str, ns: Mapping[str, Any]) -> bool:
    return name in ns and not name.startswith("_") and name not in IPYTHON_NAMES and not _is_module(ns[name])


def _words(text: str) -> Iterator[str]:
    for m in _WORD.finditer(text):
        w = m.group()
        if w in _CONTRACTION_TAILS and m.start() > 0 and text[m.start() - 1] in "'\u2019":
            continue  # "df's" -> df, not s
        yield w


def _cell_names(tree: ast.Module) -> list[str]:
    """Every name a cell loads, stores or defines, in source order."""
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.append((node.lineno, node.col_offset, node.id))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((node.lineno, node.col_offset, node.name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                found.append((node.lineno, node.col_offset, (alias.asname or alias.name).split(".")[0]))
    return [name for _, _, name in sorted(found, key=lambda f: (f[0], f[1]))]


def _target_names(target: ast.expr) -> Iterator[str]:
    """The variable an assignment binds or changes: ``x``, ``a, b``, ``df['c']`` -> df."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from _target_names(elt)
    elif isinstance(target, (ast.Starred, ast.Subscript, ast.Attribute)):
        yield from _target_names(target.value)


def _defined_at_top(tree: ast.Module) -> list[str]:
    """Names a cell binds at top level, last binding last."""
    names: list[str] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                names.extend(_target_names(target))
        elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
            names.extend(_target_names(stmt.target))
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(stmt.name)
    return names


def _code_globals(code: types.CodeType, depth: int = 0) -> Iterator[str]:
    """Global names a function's code may read, including its comprehensions and inner functions."""
    yield from code.co_names
    if depth < 3:
        for const in code.co_consts:
            if type(const) is types.CodeType:
                yield from _code_globals(const, depth + 1)


def _dependencies(obj: Any) -> list[str]:
    """Globals a notebook-defined function (or the methods of a notebook class) uses."""
    t = type(obj)
    funcs: list[types.FunctionType] = []
    if t is types.FunctionType and obj.__module__ == "__main__":
        funcs.append(obj)
    elif issubclass(t, type) and _is_notebook_type(obj):
        for value in _tdict(obj).values():
            vt = type(value)
            if vt is staticmethod or vt is classmethod:
                value = value.__func__
            if type(value) is types.FunctionType:
                funcs.append(value)
    out: list[str] = []
    for f in funcs:
        out.extend(_code_globals(f.__code__))
    return out


def referenced_names(
    ns: Mapping[str, Any],
    texts: Sequence[str],
    recent_cells: Sequence[str] = (),
    max_recent_defined: int = 3,
) -> list[str]:
    """User variables worth describing for a request, most relevant first.

    Order: names in backticks, then other identifiers of ``texts`` (the task line, the cell
    body) that are variables; the ``max_recent_defined`` names bound most recently at top level of
    ``recent_cells`` (oldest first); the other names those cells use, newest cell first; words
    like "a" or "in" that happen to be variables. Each notebook function or class is followed by
    the globals it uses (one level). Modules, ``_`` names and IPython's own names are left out.
    """
    quoted: list[str] = []
    plain: list[str] = []
    stop: list[str] = []
    for text in texts:
        for m in _BACKTICK.finditer(text):
            quoted.extend(_WORD.findall(m.group(1)))
        for w in _words(text):
            (stop if w.lower() in _STOPWORDS else plain).append(w)
    trees = [tree for tree in (_parse(cell) for cell in recent_cells) if tree is not None]
    recent_defined: list[str] = []
    for tree in reversed(trees):
        for name in reversed(_defined_at_top(tree)):
            if _eligible(name, ns) and name not in recent_defined:
                recent_defined.append(name)
    recent_defined = recent_defined[: max(max_recent_defined, 0)]
    used = [name for tree in reversed(trees) for name in _cell_names(tree)]

    primary = [n for n in dict.fromkeys([*quoted, *plain, *recent_defined, *used, *stop]) if _eligible(n, ns)]
    out: list[str] = []
    for name in primary:
        for n in (name, *_dependencies(ns[name])):
            if n not in out and _eligible(n, ns):
                out.append(n)
        if len(out) >= MAX_NAMES:
            break
    return out[:MAX_NAMES]


def module_aliases(ns: Mapping[str, Any]) -> dict[str, str]:
    """alias -> module name for the modules in the namespace (``pd`` -> ``pandas``)."""
    out: dict[str, str] = {}
    for alias, value in ns.items():
        if type(alias) is not str or alias.startswith("_") or alias in IPYTHON_NAMES:
            continue
        if _is_module(value):
            out[alias] = _module_name(value) or alias
    return out


def _fit(lines: list[str], allowance: int) -> list[str]:
    """The entry's first line (clipped) and as many of the rest as fit in ``allowance`` chars."""
    out = [_clip(lines[0], allowance)] if lines else []
    used = len(out[0]) if out else 0
    for line in lines[1:]:
        line = _clip(line, _LINE_MAX)
        if used + 1 + len(line) > allowance:
            if used + 1 + len("  ...") <= allowance:
                out.append("  ...")
            break
        out.append(line)
        used += 1 + len(line)
    return out


def _modules_line(ns: Mapping[str, Any], limit: int) -> str:
    mods = module_aliases(ns)
    if not mods:
        return ""
    text = "modules: " + ", ".join(a if a == m else f"{a} = {m}" for a, m in mods.items())
    return _clip(text, limit)


def describe(
    ns: Mapping[str, Any],
    names: Sequence[str],
    max_chars: int = 2400,
    time_limit: float = 0.5,
    history: Sequence[str] = (),
) -> str:
    """Describe ``names`` of ``ns`` for the model, one entry each, then the modules line.

    At most ``max_chars`` characters (about 4 a token): each name is promised a first line, so a
    big early entry is cut rather than the names after it; past ``time_limit`` seconds the rest
    are listed as not described. ``history`` (cell sources, oldest first) supplies the source of
    notebook functions and classes. Runs no user code (see the module docstring).
    """
    deadline = time.perf_counter() + time_limit
    modules = _modules_line(ns, min(_MODULES_MAX, max_chars // 4))
    budget = max_chars - (len(modules) + 1 if modules else 0)
    todo = [n for n in dict.fromkeys(names) if not (n in ns and _is_module(ns[n]))]
    sources = _Sources(history)
    out: list[str] = []
    used = 0
    for i, name in enumerate(todo):
        after = len(todo) - i - 1
        left = budget - used - (1 if out else 0)
        allowance = min(
            max(left - after * _MIN_ENTRY, _MIN_ENTRY),
            max(max_chars // 2, _MIN_ENTRY),
            left - (_NOTE_RESERVE if after else 0),
        )
        reason = "time limit" if time.perf_counter() > deadline else "size limit" if allowance < 30 else ""
        if reason:
            note = f"... (more names not described: {reason}: {', '.join(todo[i:])})"
            note = _clip(note, min(_NOTE_RESERVE, max(left, 0)))
            if note:
                out.append(note)
            break
        if name not in ns:
            lines = [f"{name}: not defined"]
        else:
            try:
                lines = _entry(name, ns[name], sources, deadline)
            except Exception as exc:  # a library object in a state we did not foresee
                lines = [f"{name}: {type_name(type(ns[name]))} (not described: {type_name(type(exc))})"]
        entry = _fit(lines, allowance)
        out.extend(entry)
        used = len("\n".join(out))
    if modules:
        out.append(modules)
    return "\n".join(out)
