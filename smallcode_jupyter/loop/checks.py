"""Turn what a user gives (task text, a prompt's docstring, a cell body) into runnable checks.

Checks are most of the agent loop's signal, so this module errs on the side of
*no* check over a *wrong* check: a wrong check makes the loop "repair" correct
code.  Only user-visible material is used (prompt/docstring examples, tests the
user wrote, asserts a model wrote) -- never a benchmark's hidden tests.

Harness contract (the PRELUDE approach)
---------------------------------------
1. ``exec`` the candidate code in a namespace ``ns`` (module level).
2. ``exec(CHECK_PRELUDE, ns)`` once.  It only defines ``_sc_*`` helpers and
   imports nothing but the stdlib.
3. For each check, ``exec(check.code, ns)`` at module level (a copy of ``ns``
   or a subprocess per check is fine; helpers that take ``globals()`` are given
   the check's own namespace).  Any exception means the check failed; the
   ``AssertionError`` message says what was expected and what came back.

``check.code`` is usually a single line ``assert _sc_eq(_sc_got := (CALL), EXPECTED), msg``
optionally preceded by setup lines taken from the same doctest block
(``>>> x = ...``) or needed top-level assignments/imports.  ``_sc_eq`` is
``==`` except that floats (also inside lists/tuples/dicts) compare with
``math.isclose(rel_tol=1e-6, abs_tol=1e-9)`` -- the same thing a doctest's
``repr`` comparison means, without its formatting brittleness.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import importlib.util
import io
import math
import re
import sys
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHECK_PRELUDE",
    "Check",
    "checks_from_model_output",
    "extract_checks",
    "user_checks",
]


@dataclass(frozen=True)
class Check:
    """One runnable check; ``code`` raises (usually AssertionError) when it fails."""

    code: str
    source: str  # "user" | "docstring" | "model"
    label: str
    call: str | None = None
    expected: str | None = None


CHECK_PRELUDE = '''\
import math as _sc_math


def _sc_eq(a, b):
    """== but floats (also nested in lists/tuples/dicts) compare with tolerance."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a == b or _sc_math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return (isinstance(a, list) == isinstance(b, list) and len(a) == len(b)
                and all(_sc_eq(x, y) for x, y in zip(a, b)))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_sc_eq(a[k], b[k]) for k in a)
    r = a == b
    if isinstance(r, bool):
        return r
    try:
        return bool(r.all()) if hasattr(r, "all") else bool(r)
    except Exception:
        return False


def _sc_r(v):
    try:
        s = repr(v)
    except Exception as e:
        s = "<unrepresentable %s: %s>" % (type(v).__name__, e)
    return s if len(s) <= 300 else s[:300] + "..."


def _sc_same(got, want):
    """Printed-output comparison, whitespace-insensitive (doctest NORMALIZE_WHITESPACE)."""
    return got.split() == want.split()


def _sc_out(src, g):
    """Run src like a doctest example in namespace g; return what it printed/displayed."""
    import ast, contextlib, io
    tree = ast.parse(src)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(tree, "<check>", "exec"), g)
        if last is not None:
            v = eval(compile(ast.Expression(last.value), "<check>", "eval"), g)
            if v is not None:
                print(repr(v))
    return buf.getvalue()


def _sc_raises(src, g, name):
    """True if running src in namespace g raises an exception of class `name`."""
    try:
        exec(src, g)
    except Exception as e:
        return any(c.__name__ == name for c in type(e).__mro__)
    return False
'''

# ---------------------------------------------------------------------------
# small helpers

_BUILTIN_NAMES = frozenset(dir(builtins))
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
_PROSE_CONSTS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_MAX_TEXT = 1_000_000
_MAX_SPAN = 3000


def _short(s: str, n: int = 120) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 3] + "..."


def _unparse(node: ast.AST) -> str:
    return ast.unparse(node)


def _parse_expr(src: str) -> ast.expr | None:
    try:
        return ast.parse(src.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _parse_module(src: str) -> ast.Module | None:
    try:
        return ast.parse(src)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


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


_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {")", "]", "}"}


def _match_paren(s: str, i: int, limit: int = _MAX_SPAN) -> int:
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
    n = min(len(s), _MAX_SPAN)
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


class _NoValue(Exception):
    pass


_ARITH = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
}


def _const_value(node: ast.AST, prose: bool) -> Any:
    """Evaluate a literal (prose=True also allows true/false/null and numeric arithmetic)."""
    if isinstance(node, ast.Constant):
        if node.value is Ellipsis:
            raise _NoValue
        return node.value
    if isinstance(node, ast.Name):
        if node.id in ("True", "False", "None") or (prose and node.id in _PROSE_CONSTS):
            return _PROSE_CONSTS[node.id]
        raise _NoValue
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _const_value(node.operand, prose)
        if isinstance(v, bool) or not isinstance(v, (int, float, complex)):
            raise _NoValue
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        left = _const_value(node.left, prose)
        right = _const_value(node.right, prose)
        nums = (int, float, complex)
        if not (isinstance(left, nums) and isinstance(right, nums)):
            raise _NoValue
        if isinstance(left, bool) or isinstance(right, bool):
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
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_const_value(e, prose) for e in node.elts]
        if isinstance(node, ast.List):
            return items
        if isinstance(node, ast.Tuple):
            return tuple(items)
        try:
            return set(items)
        except TypeError as e:
            raise _NoValue from e
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise _NoValue
        try:
            return {
                _const_value(k, prose): _const_value(v, prose)
                for k, v in zip(node.keys, node.values, strict=True)
            }
        except TypeError as e:
            raise _NoValue from e
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and not node.args
        and not node.keywords
        and node.func.id in ("set", "list", "tuple", "dict", "str")
    ):
        return getattr(builtins, node.func.id)()
    raise _NoValue


def _finite(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, complex):
        return math.isfinite(v.real) and math.isfinite(v.imag)
    if isinstance(v, (list, tuple, set, frozenset)):
        return all(_finite(x) for x in v)
    if isinstance(v, dict):
        return all(_finite(k) and _finite(x) for k, x in v.items())
    return True


def _to_value(src: str, prose: bool) -> tuple[bool, Any]:
    node = _parse_expr(src)
    if node is None:
        return False, None
    try:
        v = _const_value(node, prose)
    except (_NoValue, RecursionError):
        return False, None
    if not _finite(v):
        return False, None
    try:
        if repr(v) and _parse_expr(repr(v)) is None:
            return False, None
    except Exception:
        return False, None
    return True, v


class _Ambiguous(Exception):
    pass


def _value_prefix(s: str) -> tuple[Any, int] | None:
    """Longest prefix of s (after leading blanks) that is a safe prose value.

    Returns (value, end offset in s) or None.  Raises _Ambiguous for a
    parenthesised non-tuple like ``("Venus")`` (tuple or not? -- skip).
    """
    lead = len(s) - len(s.lstrip(" \t"))
    body = s[lead:]
    for end in _value_ends(body)[:80]:
        cand = body[:end].rstrip()
        if not cand or cand.endswith((".", ",")):
            continue
        ok, v = _to_value(cand, prose=True)
        if not ok:
            continue
        node = _parse_expr(cand)
        if isinstance(node, ast.Tuple) and not cand.startswith("("):
            continue  # unparenthesised tuple: "1, 2" is more likely two things
        if cand.startswith("(") and _match_paren(cand, 0) == len(cand) and not isinstance(node, ast.Tuple):
            raise _Ambiguous(cand)
        return v, lead + end
    return None


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


def _value_kind(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "num"
    return type(v).__name__


# ---------------------------------------------------------------------------
# names in text

_DEF_RE = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)[ \t]*\(", re.M)
_CLASS_RE = re.compile(r"^[ \t]*class[ \t]+([A-Za-z_]\w*)[ \t]*[(:]", re.M)
_IMPORT_RE = re.compile(r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+[^\n]+$", re.M)


_DEF_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass
class _Func:
    name: str
    params: list[str]
    required: int


def _defs_in_text(text: str) -> dict[str, _Func]:
    """Functions defined in text (by `def` lines), with their parameter names."""
    out: dict[str, _Func] = {}
    for m in _DEF_RE.finditer(text):
        name = m.group(1)
        open_i = m.end() - 1
        close_i = _match_paren(text, open_i)
        if close_i < 0:
            continue
        tree = _parse_module(f"def _f{text[open_i:close_i]}: pass")
        if tree is None or not isinstance(tree.body[0], ast.FunctionDef):
            continue
        a = tree.body[0].args
        pos = [p.arg for p in a.posonlyargs + a.args]
        if pos and pos[0] in ("self", "cls"):
            pos = pos[1:]
        out.setdefault(name, _Func(name, pos, len(pos) - len(a.defaults)))
    for m in _CLASS_RE.finditer(text):
        out.setdefault(m.group(1), _Func(m.group(1), [], -1))
    return out


def _imports_in_text(text: str) -> dict[str, str]:
    """name -> the import statement (one line) that binds it."""
    out: dict[str, str] = {}
    for m in _IMPORT_RE.finditer(text):
        line = m.group(0).strip()
        tree = _parse_module(line)
        if tree is None or len(tree.body) != 1:
            continue
        node = tree.body[0]
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    continue
                bound = alias.asname or alias.name.split(".")[0]
                out.setdefault(bound, line)
    return out


def _bound_names(nodes: Iterable[ast.AST]) -> set[str]:
    """Names a statement/expression binds (assign targets, defs, imports, loop/comp vars, lambda args)."""
    out: set[str] = set()
    for root in nodes:
        for n in ast.walk(root):
            if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
                out.add(n.id)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(n.name)
            elif isinstance(n, ast.arg):
                out.add(n.arg)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                for a in n.names:
                    out.add(a.asname or a.name.split(".")[0])
            elif isinstance(n, ast.ExceptHandler) and n.name:
                out.add(n.name)
    return out


def _loaded_names(nodes: Iterable[ast.AST]) -> set[str]:
    out: set[str] = set()
    for root in nodes:
        for n in ast.walk(root):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                out.add(n.id)
    return out


def _called_names(nodes: Iterable[ast.AST]) -> set[str]:
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


def _free_names(nodes: list[ast.AST]) -> set[str]:
    return _loaded_names(nodes) - _bound_names(nodes) - _BUILTIN_NAMES


# ---------------------------------------------------------------------------
# check builders


def _eq_check(
    expr_src: str,
    exp_src: str,
    source: str,
    setup: Iterable[str] = (),
    label: str | None = None,
    msg_expr: str | None = None,
    printed: tuple[str, str] | None = None,
) -> Check:
    if msg_expr is None:
        msg = repr(f"{_short(expr_src)}: expected {_short(exp_src)}, got ") + " + _sc_r(_sc_got)"
    else:
        msg = f"str({msg_expr}) + '; got ' + _sc_r(_sc_got)"
    cond = f"_sc_eq(_sc_got := ({expr_src}), {exp_src})"
    if printed is not None:
        # doctest output may also be what the function printed (when it returns None)
        cond += f" or (_sc_got is None and _sc_same(_sc_out({printed[0]!r}, globals()), {printed[1]!r}))"
    line = f"assert {cond}, {msg}"
    code = "\n".join([*setup, line])
    return Check(code, source, label or _short(f"{expr_src} == {exp_src}", 200), expr_src, exp_src)


def _out_check(src: str, want: str, source: str, setup: Iterable[str] = ()) -> Check:
    msg = f"{_short(src)}: expected output {_short(want)!r}, got "
    line = f"assert _sc_same(_sc_got := _sc_out({src!r}, globals()), {want!r}), {msg!r} + _sc_r(_sc_got)"
    code = "\n".join([*setup, line])
    return Check(code, source, _short(f"{src} prints {want!r}", 200), src, repr(want))


def _raises_check(src: str, exc: str, source: str, setup: Iterable[str] = ()) -> Check:
    msg = f"{_short(src)}: expected {exc} to be raised"
    line = f"assert _sc_raises({src!r}, globals(), {exc!r}), {msg!r}"
    code = "\n".join([*setup, line])
    return Check(code, source, _short(f"{src} raises {exc}", 200), src, exc)


def _dedupe(checks: Iterable[Check]) -> list[Check]:
    seen: set[str] = set()
    out: list[Check] = []
    for c in checks:
        key = c.code.strip()
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


# ---------------------------------------------------------------------------
# target resolution


class _Targets:
    """Which function names a check may exercise.

    With an entry point or `def` lines in the text, only those names count.
    Otherwise (``open_``) any non-builtin called name counts -- used for
    explicit forms only (doctests, asserts, strong prose separators).
    """

    def __init__(self, text: str, entry_point: str | None, tree: ast.Module | None = None) -> None:
        self.text = text
        self.defs = _defs_in_text(text)
        # only imports a check can repeat (`from solution import f` cannot)
        self.imports = {k: v for k, v in _imports_in_text(text).items() if _importable(ast.parse(v).body[0])}
        if tree is None and text:
            tree = _parse_module(text)
        if tree is not None:  # methods are not callable by bare name: only top-level defs count
            names = {n.name for n in _flatten_main(tree.body) if isinstance(n, _DEF_NODES)}
        else:
            names = set(self.defs)
        if entry_point:
            names.add(entry_point)
        self.names = frozenset(names)
        self.entry_point = entry_point
        self.open_ = not names

    def main_func(self) -> _Func | None:
        """The function whose parameters named examples ("For lst = ...") bind to.

        Without a `def` line, a prose signature such as "write sq(n)" gives the names.
        """
        if self.entry_point:
            if self.entry_point in self.defs:
                return self.defs[self.entry_point]
            name = re.escape(self.entry_point)
            pat = rf"(?<![\w.]){name}\s*\(\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*\)"
            sigs = {tuple(re.split(r"\s*,\s*", m.group(1))) for m in re.finditer(pat, self.text)}
            sigs = {s for s in sigs if not set(s) & {"true", "false", "null", "True", "False", "None"}}
            if len(sigs) == 1:
                params = list(next(iter(sigs)))
                return _Func(self.entry_point, params, len(params))
            return None
        funcs = [f for f in self.defs.values() if f.required != -1 and f.name in self.names]
        return funcs[0] if len(funcs) == 1 else None

    def exercised(self, nodes: list[ast.AST]) -> bool:
        if self.open_:
            return any(n not in _BUILTIN_NAMES for n in _called_names(nodes))
        return bool(_loaded_names(nodes) & self.names)

    def allowed(self, nodes: list[ast.AST]) -> set[str]:
        """Free names that are fine: targets (and, open mode, called unknowns)."""
        ok = set(self.names) | set(self.imports)
        if self.open_:
            ok |= _called_names(nodes)
        return ok


_STDLIB = frozenset(m for m in getattr(sys, "stdlib_module_names", ()) if not m.startswith("_"))


def _module_refs(nodes: Iterable[ast.AST]) -> set[str]:
    """Names used as `name.attr` that are stdlib modules (e.g. `math.isclose`)."""
    out: set[str] = set()
    for root in nodes:
        for n in ast.walk(root):
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in _STDLIB:
                out.add(n.value.id)
    return out


def _unresolved(nodes: list[ast.AST], targets: _Targets) -> set[str]:
    """Free names a check would hit NameError on (it is then skipped, not emitted)."""
    return _free_names(nodes) - targets.allowed(nodes) - _module_refs(nodes)


def _import_setup(nodes: list[ast.AST], targets: _Targets) -> list[str]:
    """Import lines for modules a check uses: from the text, else stdlib by name."""
    names = _loaded_names(nodes) - _bound_names(nodes)
    mods = _module_refs(nodes)
    lines: list[str] = []
    for n in sorted(names):
        line = targets.imports.get(n) or (f"import {n}" if n in mods else None)
        if not line or line in lines:
            continue
        stmt = ast.parse(line).body[0]
        if _bound_names([stmt]) & targets.names or not _importable(stmt):
            continue  # `from solution import f` would replace or break the candidate
        lines.append(line)
    return lines


# ---------------------------------------------------------------------------
# doctests

_PS1 = re.compile(r"^(?P<indent>[ \t]*(?:#[ \t]*)?)>>>(?: |$)(?P<src>.*)$")
_PS2 = re.compile(r"^\.\.\.(?: |$)")
_EXC_RE = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")


def _doctest_checks(
    lines: list[str], targets: _Targets, source: str, text: str, consumed: set[int]
) -> list[Check]:
    checks: list[Check] = []
    setups: list[tuple[str, ast.Module]] = []
    mentions_none = re.search(r"\bNone\b", text) is not None
    prints = re.search(r"\bprint", text, re.I) is not None
    i, n = 0, len(lines)
    while i < n:
        if _DEF_RE.match(lines[i]) or _CLASS_RE.match(lines[i]):
            setups = []  # a new function's docstring starts a new example block
        m = _PS1.match(lines[i])
        if not m:
            i += 1
            continue
        indent = m.group("indent")
        src_lines = [m.group("src")]
        consumed.add(i)
        j = i + 1
        while j < n and lines[j].startswith(indent) and _PS2.match(lines[j][len(indent) :]):
            src_lines.append(lines[j][len(indent) + 4 :])
            consumed.add(j)
            j += 1
        want_lines: list[str] = []
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
        i = j
        src = "\n".join(src_lines).strip("\n")
        want = "\n".join("" if w.strip() == "<BLANKLINE>" else w for w in want_lines)
        lit = _want_literal(want) if want.strip() else None
        if lit is not None and lit[1] < len(want_lines):
            want = "\n".join(want_lines[: lit[1]])
            consumed.difference_update(range(j - len(want_lines) + lit[1], j))  # prose: scan it too
        c = _one_doctest(src, want, targets, source, setups, mentions_none, prints)
        if c is not None:
            checks.append(c)
    return checks


def _one_doctest(
    src: str,
    want: str,
    targets: _Targets,
    source: str,
    setups: list[tuple[str, ast.Module]],
    mentions_none: bool,
    prints: bool = False,
) -> Check | None:
    """Check for one doctest example; examples that touch setup state become setup too.

    Doctest examples share state (``s.pop()`` changes ``s`` for the next example), so an
    example calling a method of an object from earlier setup is replayed before later checks.
    """
    if re.search(r"doctest:.*\+SKIP", src):
        return None
    tree = _parse_module(src)
    if tree is None or not tree.body:
        return None
    n_setups = len(setups)
    check = _doctest_example(src, want, tree, targets, source, setups, mentions_none, prints)
    bound = _bound_names([t for _, t in setups[:n_setups]])
    stateful = any(  # `s.pop()` on a setup object changes it; `f(data)` is assumed not to
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and _root_name(n.func) in bound
        for n in ast.walk(tree)
    )
    raises = want.strip().startswith("Traceback (most recent call last)")
    if len(setups) == n_setups and stateful and not raises:
        setups.append((src, tree))
    return check


def _doctest_example(
    src: str,
    want: str,
    tree: ast.Module,
    targets: _Targets,
    source: str,
    setups: list[tuple[str, ast.Module]],
    mentions_none: bool,
    prints: bool,
) -> Check | None:
    src = _unparse(tree) if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) else src
    setup_trees = [t for _, t in setups]
    all_nodes: list[ast.AST] = [*setup_trees, tree]
    star = any(  # `>>> from decimal import *` binds names we cannot see
        isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in ast.walk(tree)
    ) or any(
        isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)
        for t in setup_trees
        for n in ast.walk(t)
    )
    usable = (star or not _unresolved(all_nodes, targets)) and targets.exercised(all_nodes)
    setup_src = _import_setup(all_nodes, targets) + [s for s, _ in setups]
    stmt = tree.body[0] if len(tree.body) == 1 else None
    expr = stmt.value if isinstance(stmt, ast.Expr) else None

    if not want.strip():
        if isinstance(expr, ast.Compare) and len(expr.ops) == 1 and isinstance(expr.ops[0], ast.Eq):
            # `>>> f(x) == y` with no output: the author means an assertion.
            if usable and targets.exercised([expr.left]):
                return _expected_check(expr.left, expr.comparators[0], source, setup_src)
            return None
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Name)
            and expr.func.id == targets.entry_point
            and not _loaded_names(expr.args) & _bound_names(setup_trees)
        ):
            # the function under test, called on literals: doctest means "returns None"
            if usable and mentions_none:
                return _eq_check(_unparse(expr), "None", source, setup_src)
            return None
        if expr is None or isinstance(expr, ast.Call):
            # statements (x = ..., del, for-loops, imports) and calls like `c.update(d)`,
            # `setcontext(ctx)` or `sort_in_place(xs)`: replayed before the later examples
            setups.append((src, tree))
        return None

    if not usable:
        return None
    wl = want.strip().splitlines()
    if wl[0].startswith("Traceback (most recent call last)"):
        m = _EXC_RE.match(wl[-1].strip())
        if not m:
            return None
        return _raises_check(src, m.group(1).split(".")[-1], source, setup_src)
    if expr is not None and not (
        isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "print"
    ):
        val = _want_literal(want)
        if val is not None:
            v = val[0]
            if (
                v is True
                and isinstance(expr, ast.Compare)
                and len(expr.ops) == 1
                and isinstance(expr.ops[0], ast.Eq)
                and targets.exercised([expr.left])
            ):
                return _expected_check(expr.left, expr.comparators[0], source, setup_src)
            printed = (src, want) if prints else None
            return _eq_check(_unparse(expr), repr(v), source, setup_src, printed=printed)
    if "..." in want:
        return None  # probably ELLIPSIS-elided output; can't compare reliably
    return _out_check(src, want, source, setup_src)


def _root_name(node: ast.AST) -> str | None:
    """`a` for `a.b[0].c(...)`."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_method_call(expr: ast.Call) -> bool:
    return isinstance(expr.func, ast.Attribute)


def _want_literal(want: str) -> tuple[Any, int] | None:
    """Doctest expected output as a Python literal, and how many of its lines that took.

    Prose lines right after a literal (no blank line in between) are not part of it.
    """
    lines = want.strip("\n").splitlines()
    for k in range(len(lines), 0, -1):
        ok, v = _to_value("\n".join(lines[:k]), prose=False)
        if ok:
            rest = lines[k:]
            if not rest or (
                re.match(r"[A-Za-z]", rest[0].strip()) and not _to_value(rest[0], prose=False)[0]
            ):
                return v, k
            return None
    return None


def _expected_check(left: ast.expr, right: ast.expr, source: str, setup: list[str]) -> Check | None:
    ok, v = _to_value(_unparse(right), prose=False)
    exp = repr(v) if ok else _unparse(right)
    return _eq_check(_unparse(left), exp, source, setup)


# ---------------------------------------------------------------------------
# assert lines in text (e.g. MBPP-style "Your code should pass: assert f(1) == 2")

_ASSERT_LINE = re.compile(r"^[ \t]*assert[ \t(]")


def _assert_stmt_check(node: ast.Assert, source: str, setup: list[str]) -> Check:
    """Check from an assert.  `assert A == B` becomes a float-tolerant _sc_eq check whose
    failure message says what came back (the repair prompt needs that); others run verbatim."""
    t = node.test
    if isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq):
        left, right = t.left, t.comparators[0]
        if not _called_names([left]) and _called_names([right]):
            left, right = right, left  # `assert 5 == f(2)`
        ok, v = _to_value(_unparse(right), prose=False)
        exp = repr(v) if ok else _unparse(right)
        msg = None if node.msg is None else _unparse(node.msg)
        return _eq_check(_unparse(left), exp, source, setup, msg_expr=msg)
    code = "\n".join([*setup, _unparse(node)])
    return Check(code, source, _short(_unparse(t), 200))


def _assert_line_checks(lines: list[str], targets: _Targets, source: str, consumed: set[int]) -> list[Check]:
    checks: list[Check] = []
    i, n = 0, len(lines)
    while i < n:
        if i in consumed or not _ASSERT_LINE.match(lines[i]):
            i += 1
            continue
        found = None
        for j in range(i + 1, min(n, i + 15) + 1):
            tree = _parse_module("\n".join(x.strip() if k == 0 else x for k, x in enumerate(lines[i:j])))
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
        node = tree.body[0]
        nodes: list[ast.AST] = [node]
        if not targets.exercised(nodes) or _unresolved(nodes, targets):
            continue
        if _trivial_assert(node):
            continue
        setup = _import_setup(nodes, targets)
        checks.append(_assert_stmt_check(node, source, setup))
    return checks


# ---------------------------------------------------------------------------
# prose examples: f(x) == y, f(x) ➞ y, f(x) returns y, ...

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
_STRONG = "strong"
_WEAK = "weak"


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


@dataclass
class _Cand:
    check: Check
    func: str
    strength: str
    section: int
    kind: str | None


def _prose_checks(text: str, targets: _Targets, source: str) -> list[_Cand]:
    """Examples written as prose: `f(x) == y`, `f(x) ➞ y`, `f(x) returns y`, ..."""
    text = text.replace("`", "")
    lines = text.split("\n")
    line_starts = [0]
    for line in lines:
        line_starts.append(line_starts[-1] + len(line) + 1)
    sections = _section_ids(lines, targets.names)
    if targets.open_:
        call_re = re.compile(r"(?<![\w.])([A-Za-z_]\w*)[ \t]*\(")
    else:
        alts = "|".join(map(re.escape, sorted(targets.names)))
        call_re = re.compile(rf"(?<![\w.])({alts})[ \t]*\(")
    cands: list[_Cand] = []
    tainted: set[tuple[str, int]] = set()
    for m in call_re.finditer(text):
        name = m.group(1)
        if targets.open_ and (name in _BUILTIN_NAMES or name in _BAD_PREV_WORDS):
            continue
        pos = m.start()
        line_no = bisect.bisect_right(line_starts, pos) - 1
        pre = text[line_starts[line_no] : pos]
        if not _prefix_ok(pre):
            continue
        close = _match_paren(text, m.end() - 1)
        if close < 0:
            continue
        call_node = _parse_expr(text[pos:close])
        if not (isinstance(call_node, ast.Call) and isinstance(call_node.func, ast.Name)):
            continue
        if not call_node.args and not call_node.keywords:
            continue  # "filename() returns None" in prose describes state, not an example
        sep_m = _SEP_RE.match(text, close)
        if not sep_m:
            continue
        sep = sep_m.group("sep")
        strength = _WEAK if sep == "=" else _STRONG
        section = sections[line_no]
        args_ok, call_src = _prose_call_src(call_node, targets)
        rhs = text[sep_m.end() : sep_m.end() + _MAX_SPAN]
        if not args_ok:
            tainted.add((name, section))  # e.g. "tri(n) = 1 + n / 2": a definition, not an example
            continue
        if targets.open_ and strength == _WEAK:
            continue
        try:
            got = _chain_value(rhs)
        except _Ambiguous:
            continue
        if got is None:
            rhs_line = rhs.split("\n", 1)[0]
            if re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", rhs_line):
                tainted.add((name, section))  # recurrence: "tri(3) = tri(2) + tri(1) + tri(4)"
            continue
        value, _ = got
        exp_src = repr(value)
        chk = _eq_check(call_src, exp_src, source)
        cands.append(_Cand(chk, name, strength, section, _value_kind(value)))
    return [c for c in cands if not (c.strength == _WEAK and (c.func, c.section) in tainted)]


def _prose_call_src(call: ast.Call, targets: _Targets) -> tuple[bool, str]:
    """Normalise a prose call; False if its arguments use unknown names (e.g. `is_happy(a)`)."""

    class _Fix(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id in ("true", "false", "null"):
                return ast.copy_location(ast.Constant(_PROSE_CONSTS[node.id]), node)
            return node

    for a in [*call.args, *(k.value for k in call.keywords)]:
        names = _loaded_names([a]) - _bound_names([a])
        bad = names - _SAFE_ARG_NAMES - set(targets.names) - {"true", "false", "null"}
        if bad:
            return False, ""
    fixed = _Fix().visit(call)
    ast.fix_missing_locations(fixed)
    return True, _unparse(fixed)


def _chain_value(rhs: str) -> tuple[Any, int] | None:
    """Expected value after a separator; handles "19 - 5 - 6 = 8" chains (all parts must agree)."""
    got = _value_prefix(rhs)
    if got is None:
        return None
    value, end = got
    while True:
        rest = rhs[end:]
        m = re.match(r"[ \t]*=(?!=)[ \t]*", rest)
        if not m:
            break
        nxt = _value_prefix(rest[m.end() :])
        if nxt is None:
            return None
        v2, e2 = nxt
        if not _loose_equal(value, v2):
            return None
        value, end = v2, end + m.end() + e2
    if not _remainder_ok(rhs[end:]):
        return None
    return value, end


def _loose_equal(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


# ---------------------------------------------------------------------------
# named examples: "For lst = [1,2,3] the output should be 6", "Input: arr = [..], k = 3  Output: [..]"

_FOR_RE = re.compile(r"(?i)\b(?:for|when|given|if)[ \t]+(?=[A-Za-z_]\w*[ \t]*=(?!=))")
_INPUT_RE = re.compile(r"(?i)\binput[ \t]*:[ \t]*")
_BARE_ASSIGN_RE = re.compile(r"(?m)^[ \t]*(?=[A-Za-z_]\w*[ \t]*=(?!=))")
_ASSIGN_RE = re.compile(r"[ \t]*,?\s*(?:and[ \t]+)?([A-Za-z_]\w*)[ \t]*(?:=(?!=)|:(?!=))[ \t]*")
_OUT_RE = re.compile(
    r"""(?ix)
    (?:\b(?:the[ \t]+)?(?:output|result|answer)[ \t]*(?:should[ \t]+be|will[ \t]+be|would[ \t]+be|must[ \t]+be|is|=|:)
      | ^[ \t]*(?:[-*][ \t]*)?returns?[ \t]*(?:=|:)?
      | \bshould[ \t]+return
    )[ \t]*""",
    re.M,
)


_NOT_PARAMS = frozenset(
    [
        "output",
        "outputs",
        "result",
        "results",
        "return",
        "returns",
        "explanation",
        "answer",
        "example",
        "note",
        "expected",
    ]
)


def _param_match(name: str, param: str) -> bool:
    if name == param:
        return True
    a, b = set(name.lower().split("_")), set(param.lower().split("_"))
    return param.lower() in a or name.lower() in b


def _named_checks(text: str, targets: _Targets, source: str) -> list[_Cand]:
    func = targets.main_func()
    if func is None or func.required == -1:
        return []
    text = text.replace("`", "")
    markers: list[tuple[int, int, str]] = []  # (start, region start, kind)
    for m in _FOR_RE.finditer(text):
        markers.append((m.start(), m.end(), "for"))
    for m in _INPUT_RE.finditer(text):
        markers.append((m.start(), m.end(), "input"))
    for m in _BARE_ASSIGN_RE.finditer(text):
        name = re.match(r"\w+", text[m.end() :])
        if name and name.group(0) in func.params and name.group(0).lower() not in _NOT_PARAMS:
            markers.append((m.start(), m.end(), "bare"))
    markers.sort()
    cands: list[_Cand] = []
    for idx, (_start, rstart, kind) in enumerate(markers):
        nxt = markers[idx + 1][0] if idx + 1 < len(markers) else len(text)
        region = text[rstart:nxt]
        parsed = _parse_inputs(region, kind, func, targets)
        if parsed is None:
            continue
        call_src, consumed = parsed
        rest = region[consumed:]
        rest = "\n".join(rest.split("\n")[:8])
        om = _OUT_RE.search(rest)
        if om is None:
            continue
        try:
            got = _chain_value(rest[om.end() :])
        except _Ambiguous:
            continue
        if got is None:
            continue
        value = got[0]
        chk = _eq_check(call_src, repr(value), source)
        cands.append(_Cand(chk, func.name, _STRONG, -1, _value_kind(value)))
    return cands


def _parse_inputs(region: str, kind: str, func: _Func, targets: _Targets) -> tuple[str, int] | None:
    """Parse "a = 1, b = [2]" (or a bare value after "Input:") into a call of func."""
    pos = 0
    assigns: list[tuple[str, Any]] = []
    while True:
        m = _ASSIGN_RE.match(region, pos)
        if not m or "\n\n" in region[pos : m.start(1)] or m.group(1).lower() in _NOT_PARAMS:
            break
        try:
            got = _value_prefix(region[m.end() :])
        except _Ambiguous:
            return None
        if got is None:
            break
        assigns.append((m.group(1), got[0]))
        pos = m.end() + got[1]
    if kind == "bare":
        # a line that is only "param = value" assignments
        line_rest = region[pos:].split("\n", 1)[0]
        if not assigns or line_rest.strip():
            return None
    if not assigns:
        if kind != "input":
            return None
        try:
            got = _value_prefix(region)
        except _Ambiguous:
            return None
        if got is not None:
            if func.required == 1 or len(func.params) == 1:
                return f"{func.name}({got[0]!r})", got[1]
            return None
        # "Input: f(1, 2)" -- a direct call
        lead = len(region) - len(region.lstrip())
        cm = re.match(rf"({re.escape(func.name)})\s*\(", region[lead:])
        if cm:
            close = _match_paren(region, lead + cm.end() - 1)
            node = _parse_expr(region[lead:close]) if close > 0 else None
            if isinstance(node, ast.Call):
                ok, src = _prose_call_src(node, targets)
                if ok:
                    return src, close
        return None
    names = [a for a, _ in assigns]
    if len(set(names)) != len(names):
        return None
    params = func.params
    if all(n in params for n in names):
        given = dict(assigns)
        order = [p for p in params if p in given]
        if order != params[: len(order)] or len(order) < func.required:
            return None
        return f"{func.name}({', '.join(repr(given[p]) for p in order)})", pos
    if len(assigns) == len(params) and all(
        _param_match(n, p) for (n, _), p in zip(assigns, params, strict=True)
    ):
        return f"{func.name}({', '.join(repr(v) for _, v in assigns)})", pos
    return None


# ---------------------------------------------------------------------------
# public API


def extract_checks(text: str, entry_point: str | None = None, source: str = "docstring") -> list[Check]:
    """Checks from examples in a task/prompt text: doctests, assert lines, prose and named examples.

    Only examples that name ``entry_point`` (or a function defined in the text) and
    parse as Python become checks; anything ambiguous is skipped, because a wrong
    check makes the loop break correct code.
    """
    if not text:
        return []
    text = text[:_MAX_TEXT].replace("\r\n", "\n").replace("\t", "    ")
    tree = _parse_module(text)
    targets = _Targets(text, entry_point, tree)
    consumed: set[int] = set()
    if tree is not None:
        # Python source: examples live in docstrings and comments; code lines are not examples.
        lines = _example_view(text, tree).split("\n")
        checks = _doctest_checks(lines, targets, source, text, consumed)
        checks += _top_level_assert_checks(tree, targets, source)
    else:
        lines = text.split("\n")
        checks = _doctest_checks(lines, targets, source, text, consumed)
        checks += _assert_line_checks(lines, targets, source, consumed)
    rest = "\n".join("" if k in consumed else line for k, line in enumerate(lines))
    cands = _prose_checks(rest, targets, source) + _named_checks(rest, targets, source)
    # A weak "f(x) = y" example whose value kind disagrees with the strong examples is dropped.
    strong_kinds: dict[str, set[str]] = {}
    for c in cands:
        if c.strength == _STRONG and c.kind:
            strong_kinds.setdefault(c.func, set()).add(c.kind)
    for c in checks:
        call_node = _parse_expr(c.call) if c.call else None
        for name in targets.names & _called_names([call_node] if call_node is not None else []):
            if c.expected is not None:
                ok, v = _to_value(c.expected, prose=False)
                if ok and _value_kind(v):
                    strong_kinds.setdefault(name, set()).add(_value_kind(v) or "")
    for c in cands:
        if c.strength == _WEAK and c.kind and c.func in strong_kinds and c.kind not in strong_kinds[c.func]:
            continue
        checks.append(c.check)
    return _dedupe(checks)


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
            first, last = node.lineno - 1, node.end_lineno - 1
            for k in range(first, last + 1):
                keep[k] = lines[k]
            # blank the string's own quotes so "\"\"\"f(1) == 2" still reads as prose
            col = node.col_offset
            head = lines[first]
            col = len(head.encode()[:col].decode(errors="ignore"))  # ast offsets are UTF-8 bytes
            m = re.match(r"([rRuUbBfF]{0,2})('''|\"\"\"|'|\")", head[col:])
            if m:
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
    for k, line in enumerate(lines):
        if k not in keep and (_DEF_RE.match(line) or _CLASS_RE.match(line)):
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


def _top_level_assert_checks(tree: ast.Module, targets: _Targets, source: str) -> list[Check]:
    checks: list[Check] = []
    for node in _flatten_main(tree.body):
        if not isinstance(node, ast.Assert):
            continue
        nodes: list[ast.AST] = [node]
        if not targets.exercised(nodes) or _unresolved(nodes, targets):
            continue
        if _trivial_assert(node):
            continue
        checks.append(_assert_stmt_check(node, source, _import_setup(nodes, targets)))
    return checks


def _flatten_main(body: list[ast.stmt]) -> list[ast.stmt]:
    """Module body with `if __name__ == "__main__":` blocks inlined."""
    out: list[ast.stmt] = []
    for node in body:
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and "__name__" in _unparse(node.test)
        ):
            out.extend(node.body)
        else:
            out.append(node)
    return out


_INCOMPLETE_RE = re.compile(
    r"never closed|expected an indented block|unexpected EOF|unterminated triple|incomplete"
)


def _python_chunks(text: str) -> list[ast.Module]:
    """Parse text as Python; if it has prose mixed in, parse the runs of lines that are Python."""
    tree = _parse_module(text)
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


def _importable(stmt: ast.stmt) -> bool:
    """Is an import statement safe to repeat in a check (stdlib or installed, not a local 'solution')?"""
    if isinstance(stmt, ast.Import):
        mods = [a.name for a in stmt.names]
    elif isinstance(stmt, ast.ImportFrom):
        if stmt.level:
            return False
        mods = [stmt.module or ""]
    else:
        return True
    for mod in mods:
        top = mod.split(".")[0]
        if top in _STDLIB:
            continue
        try:
            if importlib.util.find_spec(top) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


def _setup_for(nodes: list[ast.AST], defs: list[ast.stmt], protect: Iterable[str] = ()) -> list[str]:
    """Top-level assignments/imports (in order) that the given nodes need, transitively.

    Statements binding a protected name (the function under test) or importing a
    module that is not installed (``from solution import f``) are never copied:
    they would replace or break the candidate.
    """
    need = _free_names(nodes)
    protected = set(protect)
    chosen: list[ast.stmt] = []
    for stmt in reversed(defs):
        bound = _bound_names([stmt])
        if bound & protected or not _importable(stmt):
            continue
        if bound & need:
            chosen.append(stmt)
            need |= _free_names([stmt])
    chosen.reverse()
    return [_unparse(s) for s in chosen]


def _is_test_case_class(node: ast.ClassDef) -> bool:
    for b in node.bases:
        name = b.attr if isinstance(b, ast.Attribute) else b.id if isinstance(b, ast.Name) else ""
        if name.endswith("TestCase"):
            return True
    return False


def _statement_checks(
    mods: list[ast.Module], source: str, keep: Any, protect: Iterable[str] = ()
) -> list[Check]:
    """Asserts, argument-less test_* functions and unittest TestCase methods in parsed chunks.

    Each check carries the top-level assignments/imports it needs, so it runs on its own.
    """
    checks: list[Check] = []
    context: list[ast.stmt] = []
    for mod in mods:
        for node in _flatten_main(mod.body):
            if isinstance(node, ast.Assert):
                if keep(node):
                    setup = _setup_for([node], context, protect) + _stdlib_imports([node], context)
                    checks.append(_assert_stmt_check(node, source, setup))
            elif (
                isinstance(node, ast.FunctionDef)
                and node.name.startswith("test")
                and not (node.args.args or node.args.posonlyargs or node.args.kwonlyargs)
                and not node.decorator_list
            ):
                if keep(node):
                    setup = _setup_for([node], context, protect) + _stdlib_imports([node], context)
                    code = "\n".join([*setup, _unparse(node), f"{node.name}()"])
                    checks.append(Check(code, source, f"{node.name}()"))
            elif isinstance(node, ast.ClassDef) and _is_test_case_class(node):
                if not keep(node):
                    continue
                setup = _setup_for([node], context, protect) + _stdlib_imports([node], context)
                cls_src = _unparse(node)
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                        imp = [] if "import unittest" in setup else ["import unittest"]
                        code = "\n".join([*setup, *imp, cls_src, f"{node.name}({item.name!r}).debug()"])
                        checks.append(Check(code, source, f"{node.name}.{item.name}()"))
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Import, ast.ImportFrom)):
                context.append(node)
    return checks


def _stdlib_imports(nodes: list[ast.AST], context: list[ast.stmt]) -> list[str]:
    """`import math` for stdlib modules used as `math.x` but not imported by the context."""
    bound = _bound_names(context)
    return [f"import {m}" for m in sorted(_module_refs(nodes) - bound - _bound_names(nodes))]


def user_checks(cell_body: str) -> list[Check]:
    """Checks the user wrote in a cell body: top-level asserts, test_* functions, TestCase
    methods and doctests.  Other content (imports, helpers, prose) is context, not a check."""
    if not cell_body or not cell_body.strip():
        return []
    text = cell_body[:_MAX_TEXT].replace("\r\n", "\n")
    checks = _statement_checks(_python_chunks(text), "user", keep=lambda node: True)
    # In a cell body the function under test is usually not defined yet: any called
    # non-builtin name may be the target of a doctest.
    targets = _Targets("", None)
    targets.imports = _imports_in_text(text)
    checks += _doctest_checks(text.split("\n"), targets, "user", text, set())
    return _dedupe(checks)


_FENCE_RE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


def _trivial_assert(node: ast.Assert) -> bool:
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
        if not _called_names([t]):
            return True  # nothing is executed: the result is fixed
    except RecursionError:
        return True
    return False


_HELPER_NAMES = frozenset({"_sc_eq", "_sc_r", "_sc_got", "_sc_out", "_sc_same", "_sc_raises"})


def checks_from_model_output(text: str, entry_point: str | None) -> list[Check]:
    """Asserts a model wrote (e.g. when asked for tests), filtered to ones worth running:
    valid syntax, calling entry_point, not trivially true, no undefined names."""
    if not text:
        return []
    text = text[:_MAX_TEXT].replace("\r\n", "\n")
    blocks = [m.group(2) for m in _FENCE_RE.finditer(text)] or [text]

    def keep(node: ast.AST) -> bool:
        called = _called_names([node])
        if entry_point:
            if entry_point not in called:
                return False
        elif not any(n not in _BUILTIN_NAMES for n in called):
            return False
        return not (isinstance(node, ast.Assert) and _trivial_assert(node))

    checks: list[Check] = []
    for block in blocks:
        protect = {entry_point} if entry_point else set()
        for c in _statement_checks(_python_chunks(block), "model", keep, protect):
            tree = _parse_module(c.code)
            if tree is None:
                continue
            free = _free_names(list(tree.body)) - _HELPER_NAMES - protect
            if not entry_point:
                free -= _called_names(list(tree.body))
            if free:
                continue  # would raise NameError on any candidate (helper defined elsewhere, typo, ...)
            checks.append(c)
    return _dedupe(checks)
