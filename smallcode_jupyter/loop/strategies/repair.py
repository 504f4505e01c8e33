"""Bounded repair: the rounds a strategy ends with while its best candidate still fails.

Sampled fixes (the code and its failure shown) alternate with hinted rewrites (only the failure
shown), because greedy "fix this" mostly hands back the same code from a small model. Each round
is one call; ``rounds`` is a hard limit (aider's ``max_reflections``).
"""

from __future__ import annotations

from .. import events as ev
from ..generate import Candidate
from ..repair import repair_messages
from .job import Job, Tried, Unit


def repair(job: Job, unit: Unit, best: Tried, rounds: int) -> Tried:
    """Up to ``rounds`` repairs of ``best`` against the unit's checks; the best candidate seen."""
    for it in range(1, rounds + 1):
        if best.report.ok or job.cancelled:
            break
        rewrite = it % 2 == 0 and best.report.loaded
        failure = best.report.first_failure()
        tb = best.report.failures[0].traceback if best.report.failures else ""
        if tb and not rewrite and "AssertionError" not in failure:
            failure += "\n" + tb
        kind = "rewrite" if rewrite else "fix"
        job.emit(ev.Repair(iteration=it, origin=kind, failure=failure[:300]))
        job.result.iterations += 1
        job.result.candidates += 1
        msgs = repair_messages(unit.messages[-1]["content"], best.candidate.code, failure, rewrite)
        job.emit(ev.Prompt(text=msgs[-1]["content"]))
        temperature = job.settings.temperature or 0.7
        code = job.gen.one(
            msgs, unit.task, unit.entry, job.usage, temperature, seed=2000 + it, cancel=job.request.cancel
        )
        cand = Candidate(unit.finish(code), kind, job.result.candidates - 1, temperature, *job.gen.cost())
        report = job.check(unit, cand)
        if report.score > best.report.score:
            best = Tried(cand, report)
    return best
