"""Choosing among candidates by what they do: behaviour voting (MBR-exec, CodeT's dual agreement).

Candidates that pass the visible checks equally well are grouped by their behaviour on the
probes (same outputs, or the same exception classes, on every input); the largest group wins,
because independent samples that agree on inputs nobody answered are more often right than a
lone one (Shi et al., MBR-exec; Chen et al., CodeT). Ties go to the group that raises least on
the inputs, then to the earliest candidate (the greedy one first). The same functions replay
choices offline on a benchmark's logged candidates (``smallcode bench rechoose``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .probes import crashes


@dataclass(frozen=True)
class Seen:
    """One candidate as a chooser sees it."""

    index: int
    loaded: bool
    passed: int  # visible checks passed
    total: int
    behaviour: tuple[str, ...] = ()
    agreed: int = 0  # model-written tests it passes (used only by dual agreement)

    @property
    def ok(self) -> bool:
        return self.loaded and self.passed == self.total

    @property
    def score(self) -> tuple[int, int]:
        return (int(self.loaded), self.passed)


def top(pool: Sequence[Seen]) -> list[Seen]:
    """The candidates with the best visible score (loaded first, then checks passed)."""
    if not pool:
        return []
    best = max(s.score for s in pool)
    return [s for s in pool if s.score == best]


def groups(pool: Sequence[Seen]) -> list[list[Seen]]:
    """``pool`` grouped by behaviour, largest first (ties: fewer crashes, earlier candidate)."""
    by: dict[tuple[str, ...], list[Seen]] = {}
    for s in sorted(pool, key=lambda s: s.index):
        by.setdefault(s.behaviour, []).append(s)
    return sorted(by.values(), key=lambda g: (-len(g), crashes(g[0].behaviour), g[0].index))


def first_pass(pool: Sequence[Seen]) -> Seen | None:
    """The earliest candidate with the best visible score: the loop's choice before voting."""
    best = top(pool)
    return min(best, key=lambda s: s.index) if best else None


def vote(pool: Sequence[Seen]) -> Seen | None:
    """The earliest member of the largest behaviour group among the best by visible checks."""
    best = top(pool)
    if not best:
        return None
    return groups(best)[0][0] if best[0].loaded else min(best, key=lambda s: s.index)


def settled(pool: Sequence[Seen], need: int = 2) -> bool:
    """Whether sampling can stop: ``need`` candidates that pass every visible check behave
    alike on every probe (agreement), or the probes cannot tell them apart anyway."""
    passing = [s for s in pool if s.ok]
    if not passing:
        return False
    if not passing[0].behaviour:  # no probes: the first that passes is all we can know
        return True
    return len(groups(passing)[0]) >= need


def stuck(pool: Sequence[Seen]) -> bool:
    """Whether more samples are unlikely to help: none passes every visible check, and at least
    two distinct candidates that load all fail alike (the same checks passed, the same behaviour
    on every probe). The model is sure of one reading of the task, or a check disagrees with the
    task (some prompts' own examples are wrong); samples of the same prompt repeat it. Replayed
    on HumanEval runs' logged candidates (docs/benchmarks.md): 7 tasks (0.5B) and 4 (1.5B) stop
    a batch early, none that a later batch solved."""
    loaded = [s for s in pool if s.loaded]
    return (
        len(loaded) >= 2
        and not any(s.ok for s in loaded)
        and len({(s.passed, s.behaviour) for s in loaded}) == 1
    )


def dual(pool: Sequence[Seen]) -> Seen | None:
    """CodeT's dual agreement for candidates without visible checks: a behaviour group scores
    its size times (1 + the model-written tests its members pass), so a model test only counts
    where candidates agree with it, and never alone rules a candidate out."""
    loaded = [s for s in pool if s.loaded]
    if not loaded:
        return min(pool, key=lambda s: s.index) if pool else None
    scored = [(len(g) * (1 + max(s.agreed for s in g)), g) for g in groups(loaded)]
    best = max(scored, key=lambda t: t[0])[0]
    return next(g for sc, g in scored if sc == best)[0]


CHOOSERS = {"first-pass": first_pass, "vote": vote, "dual": dual}
"""Choosers by name, for ``smallcode bench rechoose``."""
