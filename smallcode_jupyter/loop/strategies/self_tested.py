"""The strategy for tasks without tests or examples: candidates are compared by what they do,
and the model's own tests count only where candidates agree with them (dual agreement).

A small model's own tests often expect wrong values, so they never rule a candidate out alone.
The model writes inputs (``inputs.py``) and asserts (``selftest.py``); every candidate runs on
both, candidates are grouped by their behaviour on the inputs, and a group scores its size times
(1 + the asserts its members pass) (``vote.dual``, after CodeT). The answer stays unverified:
what the candidates and tests said is reported as evidence, never as a pass or a failure.
"""

from __future__ import annotations

from .. import events as ev
from ..probes import crashes
from ..selftest import write_tests
from ..verify import Report
from ..vote import Seen, dual
from .job import Best, Job, Tried, Unit
from .repair import repair
from .voted import add_probes


class SelfTested:
    """One unit with no checks: the greedy candidate, the model's inputs and tests, the vote."""

    def __init__(self, job: Job, unit: Unit) -> None:
        self.job, self.unit = job, unit

    def solve(self) -> Best:
        job, unit = self.job, self.unit
        first = job.candidate(unit, 0)
        if job.cancelled:
            job.log(first, None)
            return Best(first)
        if unit.entry:
            add_probes(job, unit)
        greedy = Tried(first, job.check(unit, first))  # no checks: does it run (and on the inputs)?
        if not greedy.report.loaded or not unit.entry:
            return Best.of(repair(job, unit, greedy, job.n_repairs))  # only "does it run" to go by
        tests = write_tests(job.llm, unit.task, unit.entry, job.usage, cancel=job.request.cancel)
        if tests:
            job.emit(ev.Checks(count=len(tests), sources="model", labels=tuple(t.label for t in tests)))
            greedy = Tried(first, job.check(unit, first, tests))
        elif not unit.probes:
            return Best.of(greedy, "the model wrote no usable tests")
        if greedy.report.ok and not crashes(greedy.report.behaviour):
            return Best.of(greedy, evidence(greedy.report, [greedy.report], bool(tests)))
        pool = [greedy]
        for i in range(1, job.n_candidates):
            if job.cancelled:
                break
            cand = job.candidate(unit, i)
            pool.append(Tried(cand, job.check(unit, cand, tests or None)))
        chosen = dual([seen(t) for t in pool])
        best = next((t for t in pool if chosen is not None and t.candidate.index == chosen.index), greedy)
        return Best.of(best, evidence(best.report, [t.report for t in pool], bool(tests)))


def seen(t: Tried) -> Seen:
    """The chooser's view: the checks were the model's own, so they only score; which of them a
    candidate passes is part of its behaviour (CodeT's consensus sets)."""
    r = t.report
    return Seen(t.candidate.index, r.loaded, 0, 0, weak_behaviour(r.behaviour, r.outcomes), r.passed)


def weak_behaviour(behaviour: list[str], outcomes: list[bool]) -> tuple[str, ...]:
    return (*behaviour, "".join("T" if o else "F" for o in outcomes))


def evidence(chosen: Report, reports: list[Report], tested: bool) -> str:
    """What the candidates and the model's tests said of the chosen code."""
    loaded = [r for r in reports if r.loaded]
    mine = weak_behaviour(chosen.behaviour, chosen.outcomes)
    alike = sum(weak_behaviour(r.behaviour, r.outcomes) == mine for r in loaded)
    parts = [f"{alike} of {len(loaded)} candidates behave alike"] if len(loaded) > 1 else []
    if tested:
        parts.append(f"model-written tests: {chosen.passed}/{chosen.total} agreed")
    return "; ".join(parts) or "ran without error"
