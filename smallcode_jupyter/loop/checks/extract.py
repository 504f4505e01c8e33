"""The three ways checks are found: in a task's text, in a cell body, in a model's reply."""

from __future__ import annotations

import ast
import io
import re
import tokenize

from ..pyast import (
    BUILTIN_NAMES,
    CLASS_LINE_RE,
    DEF_LINE_RE,
    called_names,
    fenced_blocks,
    free_names,
    parse_expr,
    parse_module,
)
from .check import HELPER_NAMES, Check, dedupe
from .doctests import doctest_checks
from .literals import to_value, value_kind
from .named import named_checks
from .prose import STRONG, WEAK, Example, prose_checks
from .statements import (
    assert_line_checks,
    python_chunks,
    statement_checks,
    top_level_assert_checks,
    trivial_assert,
)
from .targets import Targets, imports_in_text

__all__ = ["checks_from_model_output", "extract_checks", "user_checks"]

_MAX_TEXT = 1_000_000


def extract_checks(text: str, entry_point: str | None = None, source: str = "docstring") -> list[Check]:
    """Checks from examples in a task/prompt text: doctests, assert lines, prose and named examples.

    Only examples that name ``entry_point`` (or a function defined in the text) and
    parse as Python become checks; anything ambiguous is skipped, because a wrong
    check makes the loop break correct code.
    """
    if not text:
        return []
    text = text[:_MAX_TEXT].replace("\r\n", "\n").replace("\t", "    ")
    tree = parse_module(text)
    targets = Targets(text, entry_point, tree)
    consumed: set[int] = set()
    if tree is not None:
        # Python source: examples live in docstrings and comments; code lines are not examples.
        lines = _example_view(text, tree).split("\n")
        checks = doctest_checks(lines, targets, source, text, consumed)
        checks += top_level_assert_checks(tree, targets, source)
    else:
        lines = text.split("\n")
        checks = doctest_checks(lines, targets, source, text, consumed)
        checks += assert_line_checks(lines, targets, source, consumed)
    rest = "\n".join("" if k in consumed else line for k, line in enumerate(lines))
    examples = prose_checks(rest, targets, source) + named_checks(rest, targets, source)
    checks += _agreeing(examples, checks, targets)
    return dedupe(checks)


def _agreeing(examples: list[Example], checks: list[Check], targets: Targets) -> list[Check]:
    """The prose examples to keep: a weak "f(x) = y" whose value kind disagrees with the strong
    examples of the same function (prose or explicit) is dropped."""
    strong_kinds: dict[str, set[str]] = {}
    for e in examples:
        if e.strength == STRONG and e.kind:
            strong_kinds.setdefault(e.func, set()).add(e.kind)
    for c in checks:
        call_node = parse_expr(c.call) if c.call else None
        for name in targets.names & called_names([call_node] if call_node is not None else []):
            if c.expected is not None:
                ok, v = to_value(c.expected, prose=False)
                if ok and value_kind(v):
                    strong_kinds.setdefault(name, set()).add(value_kind(v) or "")
    return [
        e.check
        for e in examples
        if not (
            e.strength == WEAK and e.kind and e.func in strong_kinds and e.kind not in strong_kinds[e.func]
        )
    ]


def _example_view(text: str, tree: ast.Module) -> str:
    """Same lines as text, but only docstrings, comments and def/class headers are kept.

    Code such as ``if f(3) == 2:`` inside a function body is not an example.
    """
    lines = text.split("\n")
    keep: dict[int, str] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            and node.end_lineno is not None
        ):
            _keep_string(node, lines, keep)
    for k, line in enumerate(lines):
        if k not in keep and (DEF_LINE_RE.match(line) or CLASS_LINE_RE.match(line)):
            keep[k] = line
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start[0] - 1, tok.start[1]
                if row not in keep:
                    keep[row] = " " * col + tok.string
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return "\n".join(keep.get(k, "") for k in range(len(lines)))


def _keep_string(node: ast.Expr, lines: list[str], keep: dict[int, str]) -> None:
    """Keep the lines of a string statement (a docstring), read as ``doctest`` would see them."""
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    for k in range(first, last + 1):
        keep[k] = lines[k]
    # blank the string's own quotes so "\"\"\"f(1) == 2" still reads as prose
    head = lines[first]
    col = len(head.encode()[: node.col_offset].decode(errors="ignore"))  # ast offsets are UTF-8 bytes
    m = re.match(r"([rRuUbBfF]{0,2})('''|\"\"\"|'|\")", head[col:])
    if not m:
        return
    keep[first] = head[:col] + " " * m.end() + head[col + m.end() :]
    tail = keep[last]
    end_col = len(tail.encode()[: node.end_col_offset or 0].decode(errors="ignore"))
    q = len(m.group(2))
    if end_col >= q and tail[end_col - q : end_col] == m.group(2):
        keep[last] = tail[: end_col - q] + " " * q + tail[end_col:]
    if "r" not in m.group(1).lower():
        # doctest sees the evaluated docstring: "\\n" in the source means "\n"
        for k in range(first, last + 1):
            keep[k] = keep[k].replace("\\\\", "\\")


def user_checks(cell_body: str) -> list[Check]:
    """Checks the user wrote in a cell body: top-level asserts, test_* functions, TestCase
    methods and doctests.  Other content (imports, helpers, prose) is context, not a check."""
    if not cell_body or not cell_body.strip():
        return []
    text = cell_body[:_MAX_TEXT].replace("\r\n", "\n")
    checks = statement_checks(python_chunks(text), "user", keep=lambda node: True)
    # In a cell body the function under test is usually not defined yet: any called
    # non-builtin name may be the target of a doctest.
    targets = Targets("", None)
    targets.imports = imports_in_text(text)
    checks += doctest_checks(text.split("\n"), targets, "user", text, set())
    return dedupe(checks)


def checks_from_model_output(text: str, entry_point: str | None) -> list[Check]:
    """Asserts a model wrote (e.g. when asked for tests), filtered to ones worth running:
    valid syntax, calling entry_point, not trivially true, no undefined names."""
    if not text:
        return []
    text = text[:_MAX_TEXT].replace("\r\n", "\n")
    blocks = fenced_blocks(text) or [text]

    def keep(node: ast.AST) -> bool:
        called = called_names([node])
        if entry_point:
            if entry_point not in called:
                return False
        elif not any(n not in BUILTIN_NAMES for n in called):
            return False
        return not (isinstance(node, ast.Assert) and trivial_assert(node))

    checks: list[Check] = []
    for block in blocks:
        protect = {entry_point} if entry_point else set()
        for c in statement_checks(python_chunks(block), "model", keep, protect):
            tree = parse_module(c.code)
            if tree is None:
                continue
            free = free_names(tree.body) - HELPER_NAMES - protect
            if not entry_point:
                free -= called_names(tree.body)
            if free:
                continue  # would raise NameError on any candidate (helper defined elsewhere, typo, ...)
            checks.append(c)
    return dedupe(checks)
