"""The strategy for a planned task: one small-context call per part, assembled in dependency
order, then tested together.

A failing check that calls one part's function sends only that part back for a hinted rewrite
(its own small call again); other failures repair the assembled program.
"""

from __future__ import annotations

from .. import events as ev
from .. import plan as planner
from ..checks import Check
from ..generate import Candidate, task_messages
from ..repair import repair_messages
from .job import Best, Job, Tried, Unit
from .repair import repair


class Parts:
    """The parts of a plan, then the program they make against the task's checks."""

    def __init__(self, job: Job, parts: list[planner.Part], checks: list[Check]) -> None:
        self.job, self.parts, self.checks = job, parts, checks
        self.plan = "\n".join(f"- {p.describe()}" for p in parts)
        self.signatures = {p.name: p.signature for p in parts}
        self.codes: dict[str, str] = {}

    def part_unit(self, part: planner.Part, hint: str = "") -> Unit:
        """The call for one part: the plan, the signatures it depends on, its own context."""
        deps = "\n".join(signature_of(self.codes.get(d, ""), d) or self.signatures[d] for d in part.depends)
        sub = f"Write `{part.signature}`: {part.purpose}"
        context, snippets = self.job.context_for(sub)
        msgs = task_messages(sub, context, self.plan, deps)
        if hint:
            msgs = repair_messages(msgs[-1]["content"], "", hint, rewrite=True)
        return Unit(sub, None, msgs, [], part=part.name, snippets=snippets)

    def cell_unit(self) -> Unit:
        """A notebook task ends with the cell's own code: the parts are functions, and the
        results the task names still have to be made from the user's variables by calling them."""
        job = self.job
        sigs = "\n".join(
            signature_of(code, name) or self.signatures[name] for name, code in self.codes.items()
        )
        context, snippets = job.context_for(job.task)
        msgs = task_messages(job.task, context, self.plan, sigs, notebook=True)
        return Unit(job.task, None, msgs, self.checks, part="cell", snippets=snippets)

    def solve(self) -> Best:
        job = self.job
        for p in self.parts:
            if job.cancelled:
                break
            self.codes[p.name] = job.candidate(self.part_unit(p), 0).code
        whole = Unit(job.task, None, task_messages(job.task, job.request.context), self.checks)
        if job.notebook and not job.cancelled:
            whole = self.cell_unit()
            self.codes["\0cell"] = job.candidate(whole, 0).code
        cand = Candidate(planner.assemble(list(self.codes.values())), "assembled", 0)
        if job.verifier is None:
            return Best(cand)
        best = Tried(cand, job.check(whole, cand))
        rounds = job.n_repairs
        while rounds > 0 and not best.report.ok and not job.cancelled:
            failing = best.report.failures[0].label if best.report.failures else ""
            owner = next((p for p in self.parts if failing.startswith(f"{p.name}(")), None)
            if owner is None:
                break
            rounds -= 1
            best = self.rewrite(whole, best, owner, seed=3000 + rounds)
        return Best.of(repair(job, whole, best, rounds))

    def rewrite(self, whole: Unit, best: Tried, owner: planner.Part, seed: int) -> Tried:
        """Rewrite only ``owner`` with the failure as a hint; keep it if the program improves."""
        job = self.job
        job.result.iterations += 1
        job.result.candidates += 1
        failure = best.report.first_failure()
        job.emit(
            ev.Repair(iteration=job.result.iterations, origin=f"rewrite {owner.name}", failure=failure[:300])
        )
        unit = self.part_unit(owner, failure)
        temperature = job.settings.temperature or 0.7
        code = job.gen.one(
            unit.messages, unit.task, None, job.usage, temperature, seed=seed, cancel=job.request.cancel
        )
        trial = {**self.codes, owner.name: unit.finish(code)}
        cand = Candidate(
            planner.assemble(list(trial.values())),
            "part rewrite",
            job.result.candidates - 1,
            temperature,
            *job.gen.cost(),
        )
        report = job.check(whole, cand)
        if report.score > best.report.score:
            self.codes = trial
            return Tried(cand, report)
        return best


def signature_of(code: str, name: str) -> str:
    """The ``def``/``class`` line of ``name`` in ``code`` (what dependants need to see)."""
    for line in code.splitlines():
        s = line.strip()
        if s.startswith((f"def {name}(", f"class {name}(", f"class {name}:", f"async def {name}(")):
            return s.rstrip(":")
    return ""
