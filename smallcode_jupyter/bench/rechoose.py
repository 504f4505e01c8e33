"""``smallcode bench rechoose``: replay choosers on the candidates a benchmark run logged.

A loop run logs every candidate it generated, with its visible checks, its behaviour on the
probes and (run by the benchmark after the loop, never seen by it) its hidden-test outcome.
Any chooser can then be replayed on the same candidates for free: what pass@1 would have been
had the loop chosen by that rule, next to the oracle (some candidate passes the hidden tests),
which bounds every chooser on these candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..loop.pyast import code_key
from ..loop.vote import CHOOSERS, Seen
from .runner import load_records

Record = dict[str, Any]
REPLAYED = ("greedy", *CHOOSERS)
NAMES = ("final", *REPLAYED, "oracle")
"""final: what the run chose; greedy: candidate 0; oracle: any candidate passes."""


REPAIRS = ("fix", "rewrite", "part rewrite")
"""Origins of the candidates repair wrote (the others are samples of the task's own prompt)."""


def attempts_of(record: Record, first: int | None = None, repair: bool = True) -> list[dict[str, Any]]:
    """The record's logged candidates: the first ``first``; without ``repair``, only samples."""
    attempts = [a for a in record.get("attempts") or [] if repair or a.get("origin") not in REPAIRS]
    return attempts[:first] if first is not None else attempts


def pool(record: Record, first: int | None = None, repair: bool = True) -> tuple[list[Seen], list[bool]]:
    """The chooser's view of a record's candidates (see :func:`attempts_of`; each program once),
    and the hidden outcomes of all of them (indexed as logged).
    Where the checks were the model's own (``weak``), they only score (dual agreement)."""
    attempts = attempts_of(record, first, repair)
    seen, codes = [], set()
    for i, a in enumerate(attempts):
        key = code_key(a.get("code") or "")
        if key in codes:  # the same program again is one opinion (as in the loop's vote)
            continue
        codes.add(key)
        behaviour = tuple(a.get("behaviour") or ())
        if a.get("weak"):  # the model's tests: which of them it passes is part of its behaviour (dual)
            tests = "".join("T" if o else "F" for o in a.get("outcomes") or ())
            seen.append(Seen(i, a["loaded"], 0, 0, (*behaviour, tests), a["passed"]))
        else:
            seen.append(Seen(i, a["loaded"], a["passed"], a["total"], behaviour))
    return seen, [bool(a.get("hidden")) for a in attempts]


def choose(name: str, record: Record, first: int | None = None, repair: bool = True) -> bool:
    """Whether chooser ``name`` picks a candidate that passes the hidden tests."""
    if name == "final":
        return bool(record["passed"])
    seen, hidden = pool(record, first, repair)
    if not seen:
        return bool(record["passed"])  # nothing logged (an old record): its own answer
    if name == "oracle":
        return any(hidden)
    if name == "greedy":
        return hidden[0]
    chooser: Callable[[Sequence[Seen]], Seen | None] = CHOOSERS[name]
    picked = chooser(seen)
    return hidden[picked.index] if picked is not None else False


def rechoose(
    paths: Sequence[Path], names: Sequence[str] = NAMES, first: int | None = None, repair: bool = True
) -> str:
    """A Markdown table: pass@1 of each chooser on each run's logged candidates (the first
    ``first`` of each task; without ``repair``, the samples only), with the completion tokens
    those candidates cost."""
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ValueError(f"unknown chooser {', '.join(unknown)}: one of {', '.join(NAMES)}")
    head = "| run | tasks | candidates/task | tokens/task | " + " | ".join(names) + " |"
    lines = [head, "|" + "---|" * (4 + len(names))]
    for path in paths:
        records = load_records(path)
        n = len(records)
        if not n:
            continue
        kept = [attempts_of(r, first, repair) for r in records]
        per = sum(len(a) for a in kept) / n
        tokens = sum(x.get("tokens", 0) for a in kept for x in a) / n
        cells = []
        for name in names:
            k = sum(choose(name, r, first, repair) for r in records)
            cells.append(f"{100 * k / n:.1f} % ({k})")
        lines.append(f"| {path.stem} | {n} | {per:.1f} | {tokens:.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
