"""Tests written as code: ``assert`` statements, ``test_*`` functions and ``unittest`` cases.

Found in a cell body, in model output, or as assert lines in a task's text ("Your code should
pass: assert f(1) == 2"). Each check carries the top-level assignments and imports it needs,
so it runs on its own in a copy of the candidate's namespace.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Collection

from ..pyast import (
    bound_names,
    called_names,
    free_names,
    inline_main,
    is_equality,
    module_refs,
    parse_module,
)
from .check import Check, eq_check, short
from .literals import to_value
from .targets import Targets, import_setup, importable, unresolved

__all__ = [
    "assert_line_checks",
    "python_chunks",
    "statement_checks",
    "top_level_assert_checks",
    "trivial_assert",
]

_ASSERT_LINE = re.compile(r"^[ \t]*assert[ \t(]")
_INCOMPLETE_RE = re.compile(
    r"never closed|expected an indented block|unexpected EOF|unterminated triple|incomplete"
)
_CONTEXT_NODES = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Import, ast.ImportFrom)


def assert_stmt_check(node: ast.Assert, source: str, setup: list[str]) -> Check:
    """Check from an assert.  `assert A == B` becomes a float-tolerant _sc_eq check whose
    failure message says what came back (the repair prompt needs that); others run verbatim."""
    t = node.test
    if is_equality(t):
        left, right = t.left, t.comparators[0]
        if not called_names([left]) and called_names([right]):
            left, right = right, left  # `assert 5 == f(2)`
        ok, v = to_value(ast.unparse(right), prose=False)
        exp = repr(v) if ok else ast.unparse(right)
        msg = None if node.msg is None else ast.unparse(node.msg)
        return eq_check(ast.unparse(left), exp, source, setup, msg_expr=msg)
    code = "\n".join([*setup, ast.unparse(node)])
    return Check(code, source, short(ast.unparse(t), 200))


def trivial_assert(node: ast.Assert) -> bool:
    """An assert whose outcome does not depend on the code under test."""
    t = node.test
    try:
        if isinstance(t, ast.Constant):
            return True
        if isinstance(t, ast.Compare) and all(ast.dump(c) == ast.dump(t.left) for c in t.comparators):
            return True
        if (
            isinstance(t, ast.BoolOp)
            and isinstance(t.op, ast.Or)
            and any(isinstance(v, ast.Constant) and v.value for v in t.values)
        ):
            return True
        if not called_names([t]):
            return True  # nothing is executed: the result is fixed
    except RecursionError:
        return True
    return False


# ---------------------------------------------------------------------------
# asserts in a task's text


def _task_assert_check(node: ast.Assert, targets: Targets, source: str) -> Check | None:
    """An assert from the task, if it exercises a target, needs no unknown name and is not trivial."""
    nodes: list[ast.AST] = [node]
    if not targets.exercised(nodes) or unresolved(nodes, targets):
        return None
    if trivial_assert(node):
        return None
    return assert_stmt_check(node, source, import_setup(nodes, targets))


def top_level_assert_checks(tree: ast.Module, targets: Targets, source: str) -> list[Check]:
    """Module-level asserts (also under a main guard) of a task that is Python source."""
    checks: list[Check] = []
    for node in inline_main(tree.body):
        if isinstance(node, ast.Assert):
            check = _task_assert_check(node, targets, source)
            if check is not None:
                checks.append(check)
    return checks


def assert_line_checks(lines: list[str], targets: Targets, source: str, consumed: set[int]) -> list[Check]:
    """``assert`` lines (possibly continued over several lines) in a task that is not Python."""
    checks: list[Check] = []
    i, n = 0, len(lines)
    while i < n:
        if i in consumed or not _ASSERT_LINE.match(lines[i]):
            i += 1
            continue
        found = None
        for j in range(i + 1, min(n, i + 15) + 1):
            tree = parse_module("\n".join(x.strip() if k == 0 else x for k, x in enumerate(lines[i:j])))
            if tree is not None:
                found = (j, tree)
                break
        if found is None:
            consumed.add(i)
            i += 1
            continue
        j, tree = found
        consumed.update(range(i, j))
        i = j
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
            continue
        check = _task_assert_check(tree.body[0], targets, source)
        if check is not None:
            checks.append(check)
    return checks


# ---------------------------------------------------------------------------
# tests in code (a cell body, model output)


def python_chunks(text: str) -> list[ast.Module]:
    """Parse text as Python; if it has prose mixed in, parse the runs of lines that are Python."""
    tree = parse_module(text)
    if tree is not None:
        return [tree]
    lines = text.replace("\r\n", "\n").split("\n")
    n = len(lines)
    chunks: list[ast.Module] = []
    i = 0
    while i < n:
        line = lines[i]
        if not line.strip() or line[0].isspace():
            i += 1
            continue
        ends = [
            j
            for j in range(i + 1, min(n, i + 80) + 1)
            if j == n or (lines[j][:1].strip() and not lines[j][0].isspace())
        ]
        hit = None
        for j in ends:
            try:
                hit = (j, ast.parse("\n".join(lines[i:j])))
                break
            except SyntaxError as e:
                if not _INCOMPLETE_RE.search(str(e.msg)):
                    break  # a real error, not a statement that continues on later lines
            except (ValueError, RecursionError, MemoryError):
                break
        if hit is None:
            i += 1
            continue
        chunks.append(hit[1])
        i = hit[0]
    return chunks


def statement_checks(
    mods: list[ast.Module], source: str, keep: Callable[[ast.AST], bool], protect: Collection[str] = ()
) -> list[Check]:
    """Asserts, argument-less test_* functions and unittest TestCase methods in parsed chunks.

    Each check carries the top-level assignments/imports it needs, so it runs on its own.
    ``keep`` filters the statements; names in ``protect`` are never rebound by a setup line.
    """
    checks: list[Check] = []
    context: list[ast.stmt] = []
    for mod in mods:
        for node in inline_main(mod.body):
            if isinstance(node, _CONTEXT_NODES):
                context.append(node)
            elif _is_test(node) and keep(node):
                setup = _setup_for([node], context, protect) + _stdlib_imports([node], context)
                checks += _test_checks(node, source, setup)
    return checks


def _is_test(node: ast.stmt) -> bool:
    """An assert, a ``test*`` function that takes no arguments, or a ``TestCase`` class."""
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.FunctionDef):
        args = node.args
        return (
            node.name.startswith("test")
            and not (args.args or args.posonlyargs or args.kwonlyargs)
            and not node.decorator_list
        )
    return isinstance(node, ast.ClassDef) and _is_test_case_class(node)


def _is_test_case_class(node: ast.ClassDef) -> bool:
    for b in node.bases:
        name = b.attr if isinstance(b, ast.Attribute) else b.id if isinstance(b, ast.Name) else ""
        if name.endswith("TestCase"):
            return True
    return False


def _test_checks(node: ast.stmt, source: str, setup: list[str]) -> list[Check]:
    """The checks one test statement gives (a TestCase gives one per test method)."""
    if isinstance(node, ast.Assert):
        return [assert_stmt_check(node, source, setup)]
    if isinstance(node, ast.FunctionDef):
        code = "\n".join([*setup, ast.unparse(node), f"{node.name}()"])
        return [Check(code, source, f"{node.name}()")]
    checks: list[Check] = []
    if not isinstance(node, ast.ClassDef):
        return checks
    cls_src = ast.unparse(node)
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
            imp = [] if "import unittest" in setup else ["import unittest"]
            code = "\n".join([*setup, *imp, cls_src, f"{node.name}({item.name!r}).debug()"])
            checks.append(Check(code, source, f"{node.name}.{item.name}()"))
    return checks


def _setup_for(nodes: list[ast.AST], defs: list[ast.stmt], protect: Collection[str] = ()) -> list[str]:
    """Top-level assignments/imports (in order) that the given nodes need, transitively.

    Statements binding a protected name (the function under test) or importing a
    module that is not installed (``from solution import f``) are never copied:
    they would replace or break the candidate.
    """
    need = free_names(nodes)
    protected = set(protect)
    chosen: list[ast.stmt] = []
    for stmt in reversed(defs):
        bound = bound_names([stmt])
        if bound & protected or not importable(stmt):
            continue
        if bound & need:
            chosen.append(stmt)
            need |= free_names([stmt])
    chosen.reverse()
    return [ast.unparse(s) for s in chosen]


def _stdlib_imports(nodes: list[ast.AST], context: list[ast.stmt]) -> list[str]:
    """`import math` for stdlib modules used as `math.x` but not imported by the context."""
    bound = bound_names(context)
    return [f"import {m}" for m in sorted(module_refs(nodes) - bound - bound_names(nodes))]
