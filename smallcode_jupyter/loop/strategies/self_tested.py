"""The strategy for tasks without tests or examples: the model writes tests, and the candidates
vote on which of them to believe.

A small model's own tests often expect wrong values, so a test only counts when a majority of
the candidates that load agree with it (:func:`~smallcode_jupyter.loop.selftest.vote`), and the
candidate that agrees with most of the kept tests wins. The answer stays unverified: what the
tests said is reported as evidence, never as a pass or a failure.
"""

from __future__ import annotations

from .. import events as ev
from ..checks import Check
from ..selftest import vote, write_tests
from ..verify import Report
from .job import Best, Job, Tried, Unit
from .repair import repair


class SelfTested:
    """One unit with no checks: the greedy candidate, the model's tests, then the vote."""

    def __init__(self, job: Job, unit: Unit) -> None:
        self.job, self.unit = job, unit

    def solve(self) -> Best:
        job, unit = self.job, self.unit
        first, best = job.greedy(unit)  # no checks: does it run?
        if best is None:
            return Best(first)
        if not best.report.loaded or not unit.entry:
            return Best.of(repair(job, unit, best, job.n_repairs))  # only "does it run" to go by
        tests = write_tests(job.llm, unit.task, unit.entry, job.usage, cancel=job.request.cancel)
        if not tests:
            return Best.of(best, "the model wrote no usable tests")
        job.emit(ev.Checks(count=len(tests), sources="model", labels=tuple(t.label for t in tests)))
        return self.choose(best, tests)

    def choose(self, best: Tried, tests: list[Check]) -> Best:
        """More candidates against the model's ``tests``, then the one the vote favours."""
        job, unit = self.job, self.unit
        pool = [Tried(best.candidate, job.check(unit, best.candidate, tests))]
        if pool[0].report.ok:
            return Best.of(pool[0], agreement(pool[0].report))
        for i in range(1, job.n_candidates):
            if job.cancelled:
                break
            cand = job.candidate(unit, i)
            if all(cand.code != t.candidate.code for t in pool):
                pool.append(Tried(cand, job.check(unit, cand, tests)))
        loaded = [t for t in pool if t.report.loaded]
        keep = vote([t.report.outcomes for t in loaded])
        if not any(keep):
            return Best.of(best, "the candidates agreed with none of the model-written tests")

        def agreed(t: Tried) -> tuple[int, int]:
            return sum(o and k for o, k in zip(t.report.outcomes, keep, strict=False)), -t.candidate.index

        chosen = max(loaded, key=agreed)
        return Best.of(chosen, agreement(chosen.report))


def agreement(report: Report) -> str:
    """What the model's tests said of the chosen code."""
    return f"model-written tests: {report.passed}/{report.total} agreed"
