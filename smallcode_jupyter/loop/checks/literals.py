"""Values written in examples: literals, bracket-aware scanning, and where a value ends in prose.

An expected value is only trusted when it is a plain literal (what ``ast.literal_eval`` accepts;
in prose also ``true``/``false``/``null`` and small arithmetic such as ``2 ** 10``), finite, and
round-trips through ``repr``. Prose gives no end marker, so ``value_prefix`` tries the longest
bracket-balanced prefix first and ``remainder_ok`` rejects a value followed by words that
change its meaning ("3 or more").
"""

from __future__ import annotations

import ast
import builtins
import math
import operator
import re
from collections.abc import Callable
from typing import Any, TypeGuard

from ..pyast import parse_expr

__all__ = [
    "MAX_SPAN",
    "PROSE_CONSTS",
    "Ambiguous",
    "chain_value",
    "match_paren",
    "to_value",
    "value_kind",
    "value_prefix",
]

MAX_SPAN = 3000
"""Longest stretch of text (characters) scanned for one call or value."""

PROSE_CONSTS: dict[str, bool | None] = {
    "true": True,
    "false": False,
    "null": None,
    "True": True,
    "False": False,
    "None": None,
}
"""Constant names an example may use; prose also writes them JSON-style."""

_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {")", "]", "}"}


class _NoValue(Exception):
    """The node is not a value an example may state."""


class Ambiguous(Exception):
    """A parenthesised non-tuple such as ``("Venus")``: tuple or not? The example is skipped."""


# ---------------------------------------------------------------------------
# scanning


def _skip_string(s: str, i: int) -> int:
    """Index just past the string literal starting at s[i] (a quote), or -1."""
    q = s[i]
    triple = s.startswith(q * 3, i)
    j = i + (3 if triple else 1)
    n = len(s)
    while j < n:
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if triple:
            if s.startswith(q * 3, j):
                return j + 3
        else:
            if c == q:
                return j + 1
            if c == "\n":
                return -1
        j += 1
    return -1


def match_paren(s: str, i: int, limit: int = MAX_SPAN) -> int:
    """Index just past the bracket closing the one at s[i]; -1 if unbalanced."""
    stack: list[str] = []
    n = min(len(s), i + limit)
    j = i
    while j < n:
        c = s[j]
        if c in "'\"":
            j = _skip_string(s, j)
            if j < 0:
                return -1
            continue
        if c in _OPEN:
            stack.append(_OPEN[c])
        elif c in _CLOSE:
            if not stack or stack.pop() != c:
                return -1
            if not stack:
                return j + 1
        j += 1
    return -1


def _value_ends(s: str) -> list[int]:
    """Candidate end offsets of an expression starting at s[0], longest first.

    Scans bracket/string aware; stops at a newline or '#' at depth 0 or at an
    unmatched closing bracket.
    """
    ends: list[int] = []
    depth = 0
    i = 0
    n = min(len(s), MAX_SPAN)
    while i < n:
        c = s[i]
        if c in "'\"":
            j = _skip_string(s, i)
            if j < 0:
                break
            i = j
            if depth == 0:
                ends.append(i)
            continue
        if depth == 0 and c in "\n#":
            break
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth < 0:
                break
        i += 1
        if depth == 0 and not c.isspace():
            ends.append(i)
    ends.reverse()
    return ends


# ---------------------------------------------------------------------------
# evaluating literals

_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_EMPTY_CONSTRUCTORS = ("set", "list", "tuple", "dict", "str")


def _const_value(node: ast.AST, prose: bool) -> object:
    """Evaluate a literal (prose=True also allows true/false/null and numeric arithmetic).

    Raises ``_NoValue`` for anything else.
    """
    if isinstance(node, ast.Constant):
        if node.value is Ellipsis:
            raise _NoValue
        return node.value
    if isinstance(node, ast.Name):
        if node.id in ("True", "False", "None") or (prose and node.id in PROSE_CONSTS):
            return PROSE_CONSTS[node.id]
        raise _NoValue
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _const_value(node.operand, prose)
        if not _is_number(v):
            raise _NoValue
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        return _arithmetic(node, prose)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return _collection(node, prose)
    if isinstance(node, ast.Dict):
        return _mapping(node, prose)
    if isinstance(node, ast.Call):
        return _empty_container(node)
    raise _NoValue


def _is_number(v: object) -> TypeGuard[int | float | complex]:
    return isinstance(v, (int, float, complex)) and not isinstance(v, bool)


def _arithmetic(node: ast.BinOp, prose: bool) -> object:
    """``a + b`` and friends on numbers; outside prose only complex literals such as ``1+2j``."""
    left = _const_value(node.left, prose)
    right = _const_value(node.right, prose)
    if not (_is_number(left) and _is_number(right)):
        raise _NoValue
    if not prose:
        # literal_eval semantics: only complex literals like 1+2j
        if isinstance(node.op, (ast.Add, ast.Sub)) and isinstance(right, complex):
            return _ARITH[type(node.op)](left, right)
        raise _NoValue
    if isinstance(node.op, ast.Pow):
        if not isinstance(right, int) or abs(right) > 64 or abs(left) > 10**6:
            raise _NoValue
        return left**right
    op = _ARITH.get(type(node.op))
    if op is None:
        raise _NoValue
    try:
        return op(left, right)
    except (ZeroDivisionError, OverflowError, TypeError) as e:
        raise _NoValue from e


def _collection(node: ast.List | ast.Tuple | ast.Set, prose: bool) -> object:
    items = [_const_value(e, prose) for e in node.elts]
    if isinstance(node, ast.List):
        return items
    if isinstance(node, ast.Tuple):
        return tuple(items)
    try:
        return set(items)
    except TypeError as e:
        raise _NoValue from e


def _mapping(node: ast.Dict, prose: bool) -> object:
    if any(k is None for k in node.keys):
        raise _NoValue  # `{**other}`
    try:
        return {
            _const_value(k, prose): _const_value(v, prose)
            for k, v in zip(node.keys, node.values, strict=True)
            if k is not None
        }
    except TypeError as e:
        raise _NoValue from e


def _empty_container(node: ast.Call) -> object:
    """``set()``, ``list()``, ``tuple()``, ``dict()`` or ``str()``: how reprs write empty values."""
    if (
        isinstance(node.func, ast.Name)
        and not node.args
        and not node.keywords
        and node.func.id in _EMPTY_CONSTRUCTORS
    ):
        return getattr(builtins, node.func.id)()
    raise _NoValue


def _finite(v: object) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, complex):
        return math.isfinite(v.real) and math.isfinite(v.imag)
    if isinstance(v, (list, tuple, set, frozenset)):
        return all(_finite(x) for x in v)
    if isinstance(v, dict):
        return all(_finite(k) and _finite(x) for k, x in v.items())
    return True


def to_value(src: str, prose: bool) -> tuple[bool, object]:
    """(True, value) if ``src`` is a finite literal whose repr parses back; else (False, None)."""
    node = parse_expr(src)
    if node is None:
        return False, None
    try:
        v = _const_value(node, prose)
    except (_NoValue, RecursionError):
        return False, None
    if not _finite(v):
        return False, None
    try:
        if repr(v) and parse_expr(repr(v)) is None:
            return False, None
    except Exception:
        return False, None
    return True, v


def value_kind(v: object) -> str | None:
    """Coarse type of an expected value ("num", "bool", "str", ...), to spot inconsistent examples."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "num"
    return type(v).__name__


# ---------------------------------------------------------------------------
# values in prose

_BAD_FOLLOW = frozenset(
    [
        "more",
        "less",
        "greater",
        "smaller",
        "larger",
        "higher",
        "lower",
        "bigger",
        "fewer",
        "times",
        "plus",
        "minus",
        "or",
        "but",
        "if",
        "when",
        "unless",
        "except",
        "otherwise",
        "over",
        "above",
        "below",
        "after",
        "before",
        "iff",
        "only",
        "whenever",
        "until",
        "provided",
    ]
)


def value_prefix(s: str) -> tuple[object, int] | None:
    """Longest prefix of s (after leading blanks) that is a safe prose value.

    Returns (value, end offset in s) or None.  Raises Ambiguous for a
    parenthesised non-tuple like ``("Venus")`` (tuple or not? -- skip).
    """
    lead = len(s) - len(s.lstrip(" \t"))
    body = s[lead:]
    for end in _value_ends(body)[:80]:
        cand = body[:end].rstrip()
        if not cand or cand.endswith((".", ",")):
            continue
        ok, v = to_value(cand, prose=True)
        if not ok:
            continue
        node = parse_expr(cand)
        if isinstance(node, ast.Tuple) and not cand.startswith("("):
            continue  # unparenthesised tuple: "1, 2" is more likely two things
        if cand.startswith("(") and match_paren(cand, 0) == len(cand) and not isinstance(node, ast.Tuple):
            raise Ambiguous(cand)
        return v, lead + end
    return None


def _remainder_ok(rest: str) -> bool:
    """Is the text after an expected value plain prose (so the value is complete)?"""
    line = rest.split("\n", 1)[0]
    if not line.strip():
        return True
    c = line[0]
    if c in ".,;:)":
        tail = line[1:]
        return not tail.strip() or tail[0].isspace()
    if not c.isspace():
        return False
    s = line.strip()
    if s[0] in "#(":
        return True
    m = re.match(r"[A-Za-z]+", s)
    if not m:
        return False
    return m.group(0).lower() not in _BAD_FOLLOW


def chain_value(rhs: str) -> tuple[object, int] | None:
    """Expected value after a separator; handles "19 - 5 - 6 = 8" chains (all parts must agree).

    Raises Ambiguous like ``value_prefix``.
    """
    got = value_prefix(rhs)
    if got is None:
        return None
    value, end = got
    while True:
        rest = rhs[end:]
        m = re.match(r"[ \t]*=(?!=)[ \t]*", rest)
        if not m:
            break
        nxt = value_prefix(rest[m.end() :])
        if nxt is None:
            return None
        v2, e2 = nxt
        if not _loose_equal(value, v2):
            return None
        value, end = v2, end + m.end() + e2
    if not _remainder_ok(rhs[end:]):
        return None
    return value, end


def _loose_equal(a: object, b: object) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)
