"""The plain strategy: candidates in a fixed schedule until one passes every check, then
bounded repair of the best failing one.

Used when the user or the task gave checks, and when nothing runs (then the greedy candidate is
the answer).
"""

from __future__ import annotations

from .job import Best, Job, Tried, Unit
from .repair import repair


class Single:
    """One unit against its checks: ``job.n_candidates`` candidates, then ``job.n_repairs`` repairs."""

    def __init__(self, job: Job, unit: Unit) -> None:
        self.job, self.unit = job, unit

    def solve(self) -> Best:
        job, unit = self.job, self.unit
        first, best = job.greedy(unit)
        if best is None:
            return Best(first)
        for i in range(1, job.n_candidates):
            if best.report.ok or job.cancelled:
                return Best.of(best)
            cand = job.candidate(unit, i)
            report = job.check(unit, cand)
            if report.score > best.report.score:
                best = Tried(cand, report)
        return Best.of(repair(job, unit, best, job.n_repairs))
