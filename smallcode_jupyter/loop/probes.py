"""Probes: the candidate called on one input, for its behaviour rather than a verdict.

A probe is a check whose code always raises ``_sc_Behaviour`` (see ``checks/prelude.py``)
carrying what the call returned (``=`` and a canonical text) or raised (``!`` and the class),
so it runs in the same sandbox execution, forked child and time limits as the checks. Its
inputs come from the prompt's own example calls and from the model (``inputs.py``); nobody
says what the output should be: candidates are grouped by what they do (``vote.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence

from .checks import Check

BEHAVIOUR = "_sc_Behaviour"
"""The exception class a probe raises; its message is the probe's result."""

MAX_PROBES = 8


def call_args(call: str, entry: str) -> str | None:
    """The argument source of ``call`` when it is a plain call of ``entry`` whose arguments are
    literals (what a probe can re-create fresh on every call), else None."""
    try:
        node = ast.parse(call.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry):
        return None
    try:
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            ast.literal_eval(arg)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return None
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        return None
    parts = [ast.unparse(a) for a in node.args] + [f"{k.arg}={ast.unparse(k.value)}" for k in node.keywords]
    return ", ".join(parts)


def example_inputs(checks: Iterable[Check], entry: str) -> list[str]:
    """Argument sources of the example calls among ``checks`` (in order, without repeats)."""
    out: list[str] = []
    for c in checks:
        args = call_args(c.call, entry) if c.call else None
        if args is not None and args not in out:
            out.append(args)
    return out


def probe(entry: str, args: str) -> Check:
    """The probe that calls ``entry(args)``; the arguments are rebuilt from source on each call,
    so a candidate that mutates its input cannot change what the next candidate sees."""
    return Check(
        f"_sc_behave(lambda: {entry}({args}))", "probe", f"{entry}({args})"[:200], f"{entry}({args})"
    )


def probes(entry: str, inputs: Sequence[str]) -> list[Check]:
    return [probe(entry, a) for a in list(dict.fromkeys(inputs))[:MAX_PROBES]]


def outcome_text(name: str | None, value: str) -> str:
    """A probe's result from the harness's outcome of its check: the carried text, or what
    stopped the probe itself (the check's time limit, a dead child)."""
    if name == BEHAVIOUR:
        return value
    return "!" + (name or "NoResult")


def signature(results: Sequence[str]) -> str:
    """One candidate's behaviour on all probes, as one comparable string."""
    return "\x1f".join(results)


def crashes(results: Sequence[str]) -> int:
    """How many probes raised."""
    return sum(r.startswith("!") for r in results)
