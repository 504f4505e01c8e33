"""Examples written as prose: ``f(x) == y``, ``f(x) ➞ y``, ``f(x) returns y``, ...

A call of a target followed by a separator and a literal value is an example. The call must
start the example (``x = f(`` or ``(f(`` do not) and its arguments may only use literals and
safe builtins. A plain ``=`` is weak evidence ("tri(n) = 1 + n / 2" defines rather than shows),
so weak examples are dropped when the same section also defines the function that way or when
their value kind disagrees with the strong examples.
"""

from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass

from ..pyast import BUILTIN_NAMES, bound_names, loaded_names, parse_expr
from .check import Check, eq_check
from .literals import MAX_SPAN, PROSE_CONSTS, Ambiguous, chain_value, match_paren, value_kind
from .targets import Targets

__all__ = ["STRONG", "WEAK", "Example", "prose_call_src", "prose_checks"]

STRONG = "strong"
WEAK = "weak"

# Builtins a prose example may use inside call arguments (e.g. float('inf')).
_SAFE_ARG_NAMES = frozenset(
    [
        "True",
        "False",
        "None",
        "float",
        "int",
        "str",
        "list",
        "tuple",
        "set",
        "dict",
        "range",
        "frozenset",
        "len",
        "abs",
        "sum",
        "min",
        "max",
        "sorted",
        "round",
        "bool",
        "complex",
        "bytes",
        "chr",
        "ord",
        "reversed",
    ]
)
_SEP_RE = re.compile(
    r"""[ \t]*(?:\#[ \t]*)?(?P<sep>
        ==>|==|=>|-->|->|➞|→|⇒|=(?![=>])
      | (?:should\s+(?:return|be|equal|give|output|yield)|will\s+return|would\s+return|returns?
         |gives|outputs|evaluates\s+to|results\s+in|yields|equals)\b
    )[ \t]*:?""",
    re.X,
)
_BAD_PREV_WORDS = frozenset(
    [
        "def",
        "class",
        "lambda",
        "return",
        "yield",
        "not",
        "or",
        "in",
        "is",
        "if",
        "elif",
        "while",
        "with",
        "del",
        "raise",
        "await",
        "async",
        "else",
        "import",
        "from",
        "print",
        "global",
        "nonlocal",
        # a condition, not an example: "files for which isatty() returns True"
        "which",
        "whether",
        "when",
        "whenever",
        "until",
        "unless",
        "iff",
        "once",
        "while",
        "since",
        "because",
        "after",
        "before",
        "having",
    ]
)


@dataclass
class Example:
    """A check found in prose, with what decides whether to keep it."""

    check: Check
    func: str  # the function it calls
    strength: str  # STRONG or WEAK (a bare "=" separator)
    section: int  # text section it was found in (-1: named example)
    kind: str | None  # value_kind of the expected value


def _prefix_ok(pre: str) -> bool:
    """Is the text before a call on its line prose-like (so the call starts an example)?"""
    s = pre.rstrip()
    if not s:
        return True
    if pre == s:
        return False  # glued to something: "x=f(", "(f(", ".f("
    if re.fullmatch(r"\d{1,3}[.)]|\(?[a-z]\)", s.strip()):
        return True  # numbered list item: "1. f(1) == 2"
    last = s[-1]
    if last in "*-+•>":
        return s.strip() in ("*", "-", "+", "•", ">")
    if last in ":#":
        return True
    if last in ",;":
        return True  # "f(1) == 1, f(2) == 4" (an argument list would not be followed by a separator)
    if last == ".":
        return len(s) >= 2 and s[-2].isalpha()
    if last.isalpha() or last == "_":
        m = re.search(r"[A-Za-z_]\w*$", s)
        return m is not None and m.group(0) not in _BAD_PREV_WORDS
    return False


def _section_ids(lines: list[str], names: frozenset[str]) -> list[int]:
    """Number text sections: blank lines and prose header lines ("Examples:") start new ones."""
    ids: list[int] = []
    sec = 0
    alts = "|".join(map(re.escape, names))
    call_re = re.compile(rf"(?<![\w.])(?:{alts})\s*\(") if names else None
    for line in lines:
        s = line.strip()
        if not s or (s.endswith(":") and not (call_re and call_re.search(s))):
            sec += 1
        ids.append(sec)
    return ids


def _call_re(targets: Targets) -> re.Pattern[str]:
    """Calls of the targets (open mode: of any name)."""
    if targets.open_:
        return re.compile(r"(?<![\w.])([A-Za-z_]\w*)[ \t]*\(")
    alts = "|".join(map(re.escape, sorted(targets.names)))
    return re.compile(rf"(?<![\w.])({alts})[ \t]*\(")


def _call_with_separator(text: str, pos: int, open_i: int) -> tuple[ast.Call, re.Match[str]] | None:
    """The call starting at ``pos`` (its bracket at ``open_i``) and the separator after it."""
    close = match_paren(text, open_i)
    if close < 0:
        return None
    call_node = parse_expr(text[pos:close])
    if not (isinstance(call_node, ast.Call) and isinstance(call_node.func, ast.Name)):
        return None
    if not call_node.args and not call_node.keywords:
        return None  # "filename() returns None" in prose describes state, not an example
    sep_m = _SEP_RE.match(text, close)
    if not sep_m:
        return None
    return call_node, sep_m


def prose_checks(text: str, targets: Targets, source: str) -> list[Example]:
    """Examples written as prose: `f(x) == y`, `f(x) ➞ y`, `f(x) returns y`, ..."""
    text = text.replace("`", "")
    lines = text.split("\n")
    line_starts = [0]
    for line in lines:
        line_starts.append(line_starts[-1] + len(line) + 1)
    sections = _section_ids(lines, targets.names)
    cands: list[Example] = []
    tainted: set[tuple[str, int]] = set()
    for m in _call_re(targets).finditer(text):
        name = m.group(1)
        if targets.open_ and (name in BUILTIN_NAMES or name in _BAD_PREV_WORDS):
            continue
        pos = m.start()
        line_no = bisect.bisect_right(line_starts, pos) - 1
        if not _prefix_ok(text[line_starts[line_no] : pos]):
            continue
        found = _call_with_separator(text, pos, m.end() - 1)
        if found is None:
            continue
        call_node, sep_m = found
        strength = WEAK if sep_m.group("sep") == "=" else STRONG
        section = sections[line_no]
        args_ok, call_src = prose_call_src(call_node, targets)
        rhs = text[sep_m.end() : sep_m.end() + MAX_SPAN]
        if not args_ok:
            tainted.add((name, section))  # e.g. "tri(n) = 1 + n / 2": a definition, not an example
            continue
        if targets.open_ and strength == WEAK:
            continue
        try:
            got = chain_value(rhs)
        except Ambiguous:
            continue
        if got is None:
            rhs_line = rhs.split("\n", 1)[0]
            if re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", rhs_line):
                tainted.add((name, section))  # recurrence: "tri(3) = tri(2) + tri(1) + tri(4)"
            continue
        value = got[0]
        chk = eq_check(call_src, repr(value), source)
        cands.append(Example(chk, name, strength, section, value_kind(value)))
    return [c for c in cands if not (c.strength == WEAK and (c.func, c.section) in tainted)]


class _ProseConstants(ast.NodeTransformer):
    """``true``/``false``/``null`` in a prose call become Python constants."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in ("true", "false", "null"):
            return ast.copy_location(ast.Constant(PROSE_CONSTS[node.id]), node)
        return node


def prose_call_src(call: ast.Call, targets: Targets) -> tuple[bool, str]:
    """Normalise a prose call; False if its arguments use unknown names (e.g. `is_happy(a)`)."""
    for a in [*call.args, *(k.value for k in call.keywords)]:
        names = loaded_names([a]) - bound_names([a])
        bad = names - _SAFE_ARG_NAMES - set(targets.names) - {"true", "false", "null"}
        if bad:
            return False, ""
    fixed = _ProseConstants().visit(call)
    ast.fix_missing_locations(fixed)
    return True, ast.unparse(fixed)
