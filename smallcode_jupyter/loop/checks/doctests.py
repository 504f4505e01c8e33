"""Doctest examples (``>>> f(1)`` followed by the expected output) as checks.

Read the way ``doctest`` reads them, with two differences that make small-model code pass
for the right reasons: a literal output is compared as a value (floats with tolerance, not by
``repr``), and an example whose output is literal may also be met by printing it. Examples
share state as in a doctest: statements and state-changing calls are replayed before the
later examples of the same docstring.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from ..pyast import (
    CLASS_LINE_RE,
    DEF_LINE_RE,
    bound_names,
    is_equality,
    loaded_names,
    parse_module,
    root_name,
)
from .check import Check, eq_check, out_check, raises_check
from .literals import to_value
from .targets import Targets, import_setup, unresolved

__all__ = ["doctest_checks"]

_PS1 = re.compile(r"^(?P<indent>[ \t]*(?:#[ \t]*)?)>>>(?: |$)(?P<src>.*)$")
_PS2 = re.compile(r"^\.\.\.(?: |$)")
_EXC_RE = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")
_TRACEBACK = "Traceback (most recent call last)"


@dataclass
class _Block:
    """What the examples of one docstring share."""

    targets: Targets
    source: str
    mentions_none: bool  # the text says "None": `>>> f(x)` without output means "returns None"
    prints: bool  # the text talks about printing: literal output may be printed, not returned
    setups: list[tuple[str, ast.Module]] = field(default_factory=list)  # replayed before each check


@dataclass
class _Example:
    """One parsed ``>>>`` example with what it needs to run."""

    src: str
    want: str
    tree: ast.Module
    expr: ast.expr | None  # the example, when it is a single expression
    setup: list[str]  # imports and earlier examples to run first
    usable: bool  # exercises a target and needs no unknown name


def doctest_checks(
    lines: list[str], targets: Targets, source: str, text: str, consumed: set[int]
) -> list[Check]:
    """Checks from the ``>>>`` examples in ``lines``; the line numbers they use go into ``consumed``."""
    checks: list[Check] = []
    block = _Block(
        targets,
        source,
        mentions_none=re.search(r"\bNone\b", text) is not None,
        prints=re.search(r"\bprint", text, re.I) is not None,
    )
    i, n = 0, len(lines)
    while i < n:
        if DEF_LINE_RE.match(lines[i]) or CLASS_LINE_RE.match(lines[i]):
            block.setups = []  # a new function's docstring starts a new example block
        m = _PS1.match(lines[i])
        if not m:
            i += 1
            continue
        src, want, i = _read_example(lines, i, m, consumed)
        c = _one_doctest(src, want, block)
        if c is not None:
            checks.append(c)
    return checks


def _read_example(lines: list[str], i: int, m: re.Match[str], consumed: set[int]) -> tuple[str, str, int]:
    """The example starting at line i (its ``>>>`` match ``m``): (source, expected output, next line).

    Prose right after a literal output is left unconsumed, so the prose scan still reads it.
    """
    indent = m.group("indent")
    src_lines = [m.group("src")]
    consumed.add(i)
    j = i + 1
    n = len(lines)
    while j < n and lines[j].startswith(indent) and _PS2.match(lines[j][len(indent) :]):
        src_lines.append(lines[j][len(indent) + 4 :])
        consumed.add(j)
        j += 1
    want_lines, j = _read_want(lines, j, indent, consumed)
    src = "\n".join(src_lines).strip("\n")
    want = "\n".join("" if w.strip() == "<BLANKLINE>" else w for w in want_lines)
    lit = _want_literal(want) if want.strip() else None
    if lit is not None and lit[1] < len(want_lines):
        want = "\n".join(want_lines[: lit[1]])
        consumed.difference_update(range(j - len(want_lines) + lit[1], j))  # prose: scan it too
    return src, want, j


def _read_want(lines: list[str], j: int, indent: str, consumed: set[int]) -> tuple[list[str], int]:
    """Expected-output lines from line j on: up to a blank line, the next ``>>>`` or the closing quotes."""
    want_lines: list[str] = []
    n = len(lines)
    while j < n:
        line = lines[j]
        s = line.strip()
        if not s or _PS1.match(line) or s in ('"""', "'''"):
            break
        if not line.startswith(indent) or (indent.strip() == "" and line[: len(indent)].strip()):
            break
        body = line[len(indent) :].rstrip()
        consumed.add(j)
        j += 1
        if body.endswith(('"""', "'''")):
            body = body[:-3].rstrip()
            if body:
                want_lines.append(body)
            break
        want_lines.append(body)
    return want_lines, j


def _one_doctest(src: str, want: str, block: _Block) -> Check | None:
    """Check for one doctest example; examples that touch setup state become setup too.

    Doctest examples share state (``s.pop()`` changes ``s`` for the next example), so an
    example calling a method of an object from earlier setup is replayed before later checks.
    """
    if re.search(r"doctest:.*\+SKIP", src):
        return None
    tree = parse_module(src)
    if tree is None or not tree.body:
        return None
    n_setups = len(block.setups)
    check = _doctest_example(src, want, tree, block)
    bound = bound_names([t for _, t in block.setups[:n_setups]])
    stateful = any(  # `s.pop()` on a setup object changes it; `f(data)` is assumed not to
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and root_name(n.func) in bound
        for n in ast.walk(tree)
    )
    raises = want.strip().startswith(_TRACEBACK)
    if len(block.setups) == n_setups and stateful and not raises:
        block.setups.append((src, tree))
    return check


def _has_star_import(trees: list[ast.Module]) -> bool:
    """``>>> from decimal import *`` binds names we cannot see."""
    return any(
        isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)
        for t in trees
        for n in ast.walk(t)
    )


def _doctest_example(src: str, want: str, tree: ast.Module, block: _Block) -> Check | None:
    src = ast.unparse(tree) if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) else src
    setup_trees = [t for _, t in block.setups]
    all_nodes: list[ast.AST] = [*setup_trees, tree]
    targets = block.targets
    star = _has_star_import([tree, *setup_trees])
    usable = (star or not unresolved(all_nodes, targets)) and targets.exercised(all_nodes)
    setup = import_setup(all_nodes, targets) + [s for s, _ in block.setups]
    stmt = tree.body[0] if len(tree.body) == 1 else None
    expr = stmt.value if isinstance(stmt, ast.Expr) else None
    ex = _Example(src, want, tree, expr, setup, usable)
    if not want.strip():
        return _silent_example(ex, block)
    if not usable:
        return None
    want_lines = want.strip().splitlines()
    if want_lines[0].startswith(_TRACEBACK):
        m = _EXC_RE.match(want_lines[-1].strip())
        if not m:
            return None
        return raises_check(src, m.group(1).split(".")[-1], block.source, setup)
    if expr is not None and not _is_print(expr):
        check = _value_example(ex, expr, block)
        if check is not None:
            return check
    if "..." in want:
        return None  # probably ELLIPSIS-elided output; can't compare reliably
    return out_check(src, want, block.source, setup)


def _silent_example(ex: _Example, block: _Block) -> Check | None:
    """An example without output: an assertion, "returns None", or setup for later examples."""
    expr, targets = ex.expr, block.targets
    if is_equality(expr):
        # `>>> f(x) == y` with no output: the author means an assertion.
        if ex.usable and targets.exercised([expr.left]):
            return _expected_check(expr.left, expr.comparators[0], block.source, ex.setup)
        return None
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id == targets.entry_point
        and not loaded_names(expr.args) & bound_names([t for _, t in block.setups])
    ):
        # the function under test, called on literals: doctest means "returns None"
        if ex.usable and block.mentions_none:
            return eq_check(ast.unparse(expr), "None", block.source, ex.setup)
        return None
    if expr is None or isinstance(expr, ast.Call):
        # statements (x = ..., del, for-loops, imports) and calls like `c.update(d)`,
        # `setcontext(ctx)` or `sort_in_place(xs)`: replayed before the later examples
        block.setups.append((ex.src, ex.tree))
    return None


def _is_print(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "print"


def _value_example(ex: _Example, expr: ast.expr, block: _Block) -> Check | None:
    """An expression whose output is a literal: compare values. None if the output is not literal."""
    val = _want_literal(ex.want)
    if val is None:
        return None
    v = val[0]
    if v is True and is_equality(expr) and block.targets.exercised([expr.left]):
        return _expected_check(expr.left, expr.comparators[0], block.source, ex.setup)
    printed = (ex.src, ex.want) if block.prints else None
    return eq_check(ast.unparse(expr), repr(v), block.source, ex.setup, printed=printed)


def _want_literal(want: str) -> tuple[object, int] | None:
    """Doctest expected output as a Python literal, and how many of its lines that took.

    Prose lines right after a literal (no blank line in between) are not part of it.
    """
    lines = want.strip("\n").splitlines()
    for k in range(len(lines), 0, -1):
        ok, v = to_value("\n".join(lines[:k]), prose=False)
        if ok:
            rest = lines[k:]
            if not rest or (re.match(r"[A-Za-z]", rest[0].strip()) and not to_value(rest[0], prose=False)[0]):
                return v, k
            return None
    return None


def _expected_check(left: ast.expr, right: ast.expr, source: str, setup: list[str]) -> Check:
    """``left == right`` as a check; ``right`` is normalised to its repr when it is a literal."""
    ok, v = to_value(ast.unparse(right), prose=False)
    exp = repr(v) if ok else ast.unparse(right)
    return eq_check(ast.unparse(left), exp, source, setup)
