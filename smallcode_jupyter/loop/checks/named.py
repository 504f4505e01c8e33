"""Named examples: "For lst = [1,2,3] the output should be 6", "Input: arr = [..], k = 3  Output: [..]".

The inputs are named by parameter, so they only become a call when the function's parameters
are known (a ``def`` line, or a prose signature such as "write sq(n)") and the names fit them.
"""

from __future__ import annotations

import ast
import re

from ..pyast import parse_expr
from .check import eq_check
from .literals import Ambiguous, chain_value, match_paren, value_kind, value_prefix
from .prose import STRONG, Example, prose_call_src
from .targets import Func, Targets

__all__ = ["named_checks"]

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


def _markers(text: str, func: Func) -> list[tuple[int, int, str]]:
    """Where named inputs start: (marker start, inputs start, kind), in text order."""
    markers: list[tuple[int, int, str]] = []
    for m in _FOR_RE.finditer(text):
        markers.append((m.start(), m.end(), "for"))
    for m in _INPUT_RE.finditer(text):
        markers.append((m.start(), m.end(), "input"))
    for m in _BARE_ASSIGN_RE.finditer(text):
        name = re.match(r"\w+", text[m.end() :])
        if name and name.group(0) in func.params and name.group(0).lower() not in _NOT_PARAMS:
            markers.append((m.start(), m.end(), "bare"))
    markers.sort()
    return markers


def named_checks(text: str, targets: Targets, source: str) -> list[Example]:
    """Examples that name their inputs, as calls of the function whose parameters they name."""
    func = targets.main_func()
    if func is None or func.required == -1:
        return []
    text = text.replace("`", "")
    markers = _markers(text, func)
    cands: list[Example] = []
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
            got = chain_value(rest[om.end() :])
        except Ambiguous:
            continue
        if got is None:
            continue
        value = got[0]
        chk = eq_check(call_src, repr(value), source)
        cands.append(Example(chk, func.name, STRONG, -1, value_kind(value)))
    return cands


def _parse_inputs(region: str, kind: str, func: Func, targets: Targets) -> tuple[str, int] | None:
    """Parse "a = 1, b = [2]" (or a bare value after "Input:") into a call of func.

    Returns (call source, offset in ``region`` where the inputs end) or None.
    """
    read = _assignments(region)
    if read is None:
        return None
    assigns, pos = read
    if kind == "bare":
        # a line that is only "param = value" assignments
        line_rest = region[pos:].split("\n", 1)[0]
        if not assigns or line_rest.strip():
            return None
    if not assigns:
        return _unnamed_input(region, func, targets) if kind == "input" else None
    return _call_from_assignments(assigns, pos, func)


def _assignments(region: str) -> tuple[list[tuple[str, object]], int] | None:
    """The leading ``name = value`` pairs of ``region`` and where they end; None if ambiguous."""
    pos = 0
    assigns: list[tuple[str, object]] = []
    while True:
        m = _ASSIGN_RE.match(region, pos)
        if not m or "\n\n" in region[pos : m.start(1)] or m.group(1).lower() in _NOT_PARAMS:
            break
        try:
            got = value_prefix(region[m.end() :])
        except Ambiguous:
            return None
        if got is None:
            break
        assigns.append((m.group(1), got[0]))
        pos = m.end() + got[1]
    return assigns, pos


def _unnamed_input(region: str, func: Func, targets: Targets) -> tuple[str, int] | None:
    """ "Input: [1, 2]" for a one-parameter function, or "Input: f(1, 2)" written as a call."""
    try:
        got = value_prefix(region)
    except Ambiguous:
        return None
    if got is not None:
        if func.required == 1 or len(func.params) == 1:
            return f"{func.name}({got[0]!r})", got[1]
        return None
    lead = len(region) - len(region.lstrip())
    cm = re.match(rf"({re.escape(func.name)})\s*\(", region[lead:])
    if cm:
        close = match_paren(region, lead + cm.end() - 1)
        node = parse_expr(region[lead:close]) if close > 0 else None
        if isinstance(node, ast.Call):
            ok, src = prose_call_src(node, targets)
            if ok:
                return src, close
    return None


def _call_from_assignments(assigns: list[tuple[str, object]], pos: int, func: Func) -> tuple[str, int] | None:
    """The call the named inputs describe: by parameter name, else by position if the names fit."""
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
