"""Small AST and source-text helpers shared across the loop.

Parsing that never raises (model output and task text are often not Python), name analysis
(what a statement binds, reads, calls), the ``if __name__ == "__main__":`` guard, ``def``/``class``
lines found by text when the whole text does not parse, and fenced code blocks in a model reply.
Check extraction, candidate clean-up and the import fixer all read code the same way through
these, so a rule (say, what counts as a main guard) is written once.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
from collections.abc import Iterable
from typing import TypeGuard

__all__ = [
    "BUILTIN_NAMES",
    "CLASS_LINE_RE",
    "DEF_LINE_RE",
    "DEF_NODES",
    "FENCE_RE",
    "STDLIB",
    "bound_names",
    "called_names",
    "def_line",
    "defined_names",
    "fenced_blocks",
    "free_names",
    "inline_main",
    "is_equality",
    "is_main_guard",
    "loaded_names",
    "module_refs",
    "parse_expr",
    "parse_module",
    "root_name",
]

BUILTIN_NAMES = frozenset(dir(builtins))
"""Every name the builtins module binds: never a free name a check or candidate must supply."""

STDLIB = frozenset(m for m in getattr(sys, "stdlib_module_names", ()) if not m.startswith("_"))
"""Top-level standard-library modules (public ones), always importable in the sandbox."""

DEF_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

DEF_LINE_RE = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)[ \t]*\(", re.M)
"""A ``def name(`` line (group 1: the name), for text that need not parse as a whole."""

CLASS_LINE_RE = re.compile(r"^[ \t]*class[ \t]+([A-Za-z_]\w*)[ \t]*[(:]", re.M)
"""A ``class Name(`` or ``class Name:`` line (group 1: the name)."""

FENCE_RE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
"""A Markdown code fence (group 1: the language tag, group 2: the body); an unclosed fence runs
to the end of the text, because a reply cut off by the token limit is still code."""


def def_line(code: str, name: str) -> str:
    """The ``def``/``class`` line of ``name`` in ``code``, stripped, without its colon; "" if none.

    What a caller of ``name`` needs to see (a plan's later parts are shown the earlier ones'
    signatures). Matched as written by ``ast.unparse`` and by models: one space, no space
    before the bracket.
    """
    heads = (f"def {name}(", f"class {name}(", f"class {name}:", f"async def {name}(")
    for line in code.splitlines():
        s = line.strip()
        if s.startswith(heads):
            return s.rstrip(":")
    return ""


def fenced_blocks(text: str) -> list[str]:
    """The bodies of the fenced code blocks in ``text``, in order."""
    return [m.group(2) for m in FENCE_RE.finditer(text)]


def parse_module(src: str) -> ast.Module | None:
    """``src`` parsed as a module, or None if it is not Python (or too deep/large to parse)."""
    try:
        return ast.parse(src)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def parse_expr(src: str) -> ast.expr | None:
    """``src`` (stripped) parsed as one expression, or None."""
    try:
        return ast.parse(src.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def is_main_guard(node: ast.AST) -> TypeGuard[ast.If]:
    """Is ``node`` an ``if __name__ == "__main__":`` block (either operand order)?"""
    if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)):
        return False
    test = node.test
    return any(isinstance(x, ast.Name) and x.id == "__name__" for x in (test.left, *test.comparators))


def is_equality(node: ast.AST | None) -> TypeGuard[ast.Compare]:
    """Is ``node`` a single ``a == b`` comparison?"""
    return isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)


def inline_main(body: Iterable[ast.stmt]) -> list[ast.stmt]:
    """A module body with its ``if __name__ == "__main__":`` blocks inlined."""
    out: list[ast.stmt] = []
    for node in body:
        if is_main_guard(node):
            out.extend(node.body)
        else:
            out.append(node)
    return out


def defined_names(body: Iterable[ast.stmt]) -> set[str]:
    """Functions and classes a statement list defines at its own level (not methods)."""
    return {n.name for n in body if isinstance(n, DEF_NODES)}


def bound_names(nodes: Iterable[ast.AST]) -> set[str]:
    """Names the nodes bind: assign targets, defs, imports, loop/comprehension variables, arguments."""
    out: set[str] = set()
    for root in nodes:
        for n in ast.walk(root):
            if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
                out.add(n.id)
            elif isinstance(n, DEF_NODES):
                out.add(n.name)
            elif isinstance(n, ast.arg):
                out.add(n.arg)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                for a in n.names:
                    out.add(a.asname or a.name.split(".")[0])
            elif isinstance(n, ast.ExceptHandler) and n.name:
                out.add(n.name)
    return out


def loaded_names(nodes: Iterable[ast.AST]) -> set[str]:
    """Names the nodes read."""
    out: set[str] = set()
    for root in nodes:
        for n in ast.walk(root):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                out.add(n.id)
    return out


def called_names(nodes: Iterable[ast.AST]) -> set[str]:
    """Root names of everything the nodes call: ``f`` for ``f(x)``, ``a`` for ``a.b.c(x)``."""
    out: set[str] = set()
    for root in nodes:
        for n in ast.walk(root):
            if isinstance(n, ast.Call):
                f = n.func
                while isinstance(f, ast.Attribute):
                    f = f.value
                if isinstance(f, ast.Name):
                    out.add(f.id)
    return out


def free_names(nodes: Iterable[ast.AST]) -> set[str]:
    """Names the nodes read but neither bind nor get from builtins (NameError unless supplied)."""
    nodes = list(nodes)
    return loaded_names(nodes) - bound_names(nodes) - BUILTIN_NAMES


def module_refs(nodes: Iterable[ast.AST]) -> set[str]:
    """Names used as ``name.attr`` that are standard-library modules (e.g. ``math`` in ``math.pi``)."""
    out: set[str] = set()
    for root in nodes:
        for n in ast.walk(root):
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in STDLIB:
                out.add(n.value.id)
    return out


def root_name(node: ast.AST) -> str | None:
    """``a`` for ``a.b[0].c(...)``; None when the chain does not start at a name."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def code_key(code: str) -> str:
    """What makes two candidates the same program: their syntax tree without docstrings,
    comments or formatting (the greedy answer and its continuation of the stub often differ
    only by the stub's docstring). Code that does not parse is its stripped text."""
    tree = parse_module(code)
    if tree is None:
        return code.strip()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            first = body[0].value if body and isinstance(body[0], ast.Expr) else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)
