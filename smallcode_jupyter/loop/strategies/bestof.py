"""The equal-compute baseline: sample until a token budget is spent, keep the best by the checks.

What the loop is measured against (``smallcode bench --mode bestof``): the same model and the
same checks, but no repair, no planning and no model-written tests. Candidate 0 is greedy, the
others are samples at the loop's temperature; every sample runs, even one identical to an
earlier sample, and sampling stops early only when a candidate passes every check.
"""

from __future__ import annotations

from .. import events as ev
from ..generate import Candidate
from .job import Best, Job, Tried, Unit


class BestOf:
    """Samples for one unit until ``budget`` tokens (prompt + completion) are spent."""

    def __init__(self, job: Job, unit: Unit, budget: int) -> None:
        self.job, self.unit, self.budget = job, unit, budget

    def solve(self) -> Best:
        job, unit = self.job, self.unit
        first = self.sample(0)
        if job.verifier is None:
            return Best(first)
        best = last = self.tried(first)
        i = 1
        while not (last.report.ok and unit.checks) and job.usage.tokens < self.budget and not job.cancelled:
            last = self.tried(self.sample(i))
            i += 1
            if last.report.score > best.report.score:
                best = last
        return Best.of(best)

    def tried(self, cand: Candidate) -> Tried:
        """Run ``cand`` against the checks (no cache: every sample runs, as in the benchmarks)."""
        report = self.job.verify(cand.code, self.unit.checks)
        self.job.report(cand, report)
        self.job.log(cand, report)
        return Tried(cand, report)

    def sample(self, i: int) -> Candidate:
        """Candidate ``i``: greedy first, then seeded samples, all from the task's own prompt."""
        job, unit = self.job, self.unit
        greedy = i == 0
        origin = "greedy" if greedy else "sample"
        job.emit(ev.Generate(candidate=i, origin=origin, part=unit.part))
        if greedy:
            job.emit(ev.Prompt(text=unit.messages[-1]["content"]))
        job.result.candidates += 1
        temperature = 0.0 if greedy else job.settings.temperature
        code = job.gen.one(
            unit.messages,
            unit.task,
            unit.entry,
            job.usage,
            temperature,
            seed=1000 + i,
            on_token=job.stream if greedy else None,
            cancel=job.request.cancel,
        )
        return Candidate(unit.finish(code), origin, i, temperature, *job.gen.cost())
