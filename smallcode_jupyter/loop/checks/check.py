"""A check, the prelude its code may call, and the builders that write its code.

A check's ``code`` runs at module level in a copy of the candidate's namespace, after the
prelude; it raises (usually ``AssertionError``, whose message says what was expected and what
came back) when the candidate is wrong.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterable
from dataclasses import dataclass

from . import prelude

__all__ = [
    "CHECK_PRELUDE",
    "GOT",
    "HELPER_NAMES",
    "Check",
    "dedupe",
    "eq_check",
    "out_check",
    "raises_check",
    "short",
]


@dataclass(frozen=True)
class Check:
    """One runnable check; ``code`` raises (usually AssertionError) when it fails."""

    code: str
    source: str  # "user" | "docstring" | "model"
    label: str
    call: str | None = None
    expected: str | None = None


def _prelude_source() -> str:
    """prelude.py as it is sent: the file from its first statement on (its docstring would bind
    ``__doc__`` in the candidate's namespace)."""
    text = inspect.getsource(prelude)
    tree = ast.parse(text)
    first = tree.body[1] if ast.get_docstring(tree) is not None else tree.body[0]
    return "".join(text.splitlines(keepends=True)[first.lineno - 1 :])


CHECK_PRELUDE = _prelude_source()
"""Source of the ``_sc_*`` helpers, executed once in the candidate's namespace before its checks."""

GOT = "_sc_got"
"""The name a check binds the value it got to (``assert _sc_eq(_sc_got := (CALL), ...)``)."""

HELPER_NAMES = frozenset(
    {
        name
        for name, obj in vars(prelude).items()
        if name.startswith("_sc_") and (inspect.isfunction(obj) or inspect.isclass(obj))
    }
    | {GOT}
)
"""Names a check may use without defining them: the prelude's functions and ``_sc_got``."""


def short(s: str, n: int = 120) -> str:
    """``s`` on one line, cut to ``n`` characters for labels and failure messages."""
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 3] + "..."


def eq_check(
    expr_src: str,
    exp_src: str,
    source: str,
    setup: Iterable[str] = (),
    label: str | None = None,
    msg_expr: str | None = None,
    printed: tuple[str, str] | None = None,
) -> Check:
    """``expr_src`` must equal ``exp_src`` (floats with tolerance); the message shows what came back.

    ``printed`` (example source, expected output) also accepts a function that printed the
    expected output and returned None, which a doctest cannot tell apart.
    """
    if msg_expr is None:
        msg = repr(f"{short(expr_src)}: expected {short(exp_src)}, got ") + f" + _sc_r({GOT})"
    else:
        msg = f"str({msg_expr}) + '; got ' + _sc_r({GOT})"
    cond = f"_sc_eq({GOT} := ({expr_src}), {exp_src})"
    if printed is not None:
        cond += f" or ({GOT} is None and _sc_same(_sc_out({printed[0]!r}, globals()), {printed[1]!r}))"
    line = f"assert {cond}, {msg}"
    code = "\n".join([*setup, line])
    return Check(code, source, label or short(f"{expr_src} == {exp_src}", 200), expr_src, exp_src)


def out_check(src: str, want: str, source: str, setup: Iterable[str] = ()) -> Check:
    """Running ``src`` like a doctest example must print ``want`` (whitespace-insensitive)."""
    msg = f"{short(src)}: expected output {short(want)!r}, got "
    line = f"assert _sc_same({GOT} := _sc_out({src!r}, globals()), {want!r}), {msg!r} + _sc_r({GOT})"
    code = "\n".join([*setup, line])
    return Check(code, source, short(f"{src} prints {want!r}", 200), src, repr(want))


def raises_check(src: str, exc: str, source: str, setup: Iterable[str] = ()) -> Check:
    """Running ``src`` must raise an exception of class ``exc`` (or a subclass)."""
    msg = f"{short(src)}: expected {exc} to be raised"
    line = f"assert _sc_raises({src!r}, globals(), {exc!r}), {msg!r}"
    code = "\n".join([*setup, line])
    return Check(code, source, short(f"{src} raises {exc}", 200), src, exc)


def dedupe(checks: Iterable[Check]) -> list[Check]:
    """``checks`` without repeats (same code, ignoring surrounding whitespace), first one kept."""
    seen: set[str] = set()
    out: list[Check] = []
    for c in checks:
        key = c.code.strip()
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out
