"""The strategy for a function with visible checks: the greedy candidate unless in doubt, then
samples chosen by behaviour voting.

The greedy candidate runs against the prompt's examples; it stands when it passes them all, so
easy tasks cost what the model alone costs. Otherwise the task is in doubt: the model writes a
few inputs (one short call, inputs only) and more candidates come, each run on the same checks
and inputs, until ``settings.agree`` of them pass every check and behave alike on every input (or the
candidates run out); the largest such group wins (``vote.vote``). Sampling also stops after a
batch when every candidate fails the checks alike (``vote.stuck``). When none passes, bounded
repair takes the best failing one. With ``batch`` (and a model that offers ``chat_batch``) the samples
are decoded together in llama.cpp batches of ``settings.batch_size`` instead of one after another;
sampling stops between batches, never inside one.
"""

from __future__ import annotations

from .. import events as ev
from ..inputs import write_inputs
from ..probes import crashes, example_inputs, probes
from ..pyast import code_key
from ..vote import Seen, settled, stuck, vote
from .job import Best, Job, Tried, Unit
from .repair import repair

N_INPUTS = 4


class Voted:
    """One unit with checks and an entry point: ``job.n_voted`` candidates at most, then repair."""

    def __init__(self, job: Job, unit: Unit) -> None:
        self.job, self.unit = job, unit

    def solve(self) -> Best:
        job, unit = self.job, self.unit
        first = job.candidate(unit, 0)
        if job.cancelled:
            job.log(first, None)
            return Best(first)
        if job.settings.probe_greedy:  # the model's inputs first, so the greedy one runs on them too
            generated = add_probes(job, unit)
        pool = [Tried(first, job.check(unit, first))]
        greedy = pool[0].report
        if greedy.ok and (not job.settings.probe_greedy or not crashes(greedy.behaviour)):
            return Best.of(pool[0])  # passes every check (and runs on every input): no doubt
        if not job.settings.probe_greedy:  # in doubt: now the inputs, and the greedy one on them
            generated = add_probes(job, unit)
            unit.seen.clear()
            pool = [Tried(first, job.check(unit, first))]
        need = job.settings.agree if generated else 1
        n = job.n_voted
        rest = list(range(1, n))
        if job.batched:  # the stub's greedy continuation alone, then the samples in batches
            rest = rest[:1] if job.continues(unit) else []
        size = job.settings.batch_size or n
        for i in rest:  # one by one: as batched, give up only after a batch's worth of samples
            if job.cancelled or settled(distinct(pool), need) or (i > size and stuck(distinct(pool))):
                break
            cand = job.candidate(unit, i)
            pool.append(Tried(cand, job.check(unit, cand)))
        batches = 0
        while job.batched and len(pool) < n and not (job.cancelled or settled(distinct(pool), need)):
            if batches and stuck(distinct(pool)):  # after a batch: all fail alike, more would too
                break
            sampled = job.batch(unit, list(range(len(pool), min(n, len(pool) + size))))
            if not sampled:
                break
            batches += 1
            pool.extend(Tried(cand, job.check(unit, cand)) for cand in sampled)
        views = distinct(pool)
        chosen = vote(views)
        best = next(t for t in pool if t.candidate.index == chosen.index) if chosen else pool[0]
        if best.report.ok:
            job.result.agreement = agreement(seen(best), views)
            return Best.of(best)
        return Best.of(repair(job, unit, best, job.n_voted_repairs))


def add_probes(job: Job, unit: Unit) -> int:
    """Give ``unit`` its probes: the prompt's example calls, then the model's inputs (one short
    call); returns how many the model wrote."""
    if not unit.entry:
        return 0
    examples = example_inputs(unit.checks, unit.entry)
    written = write_inputs(
        job.llm, unit.task, unit.entry, examples, job.usage, N_INPUTS, cancel=job.request.cancel
    )
    unit.probes = probes(unit.entry, [*examples, *written])
    generated = max(0, len(unit.probes) - len(examples))
    job.result.probes = [p.label for p in unit.probes]
    if unit.probes:
        job.emit(
            ev.Checks(
                count=len(unit.probes),
                sources=f"inputs to compare candidates on ({generated} written by the model)",
                labels=tuple(p.label for p in unit.probes),
            )
        )
    return generated


def distinct(pool: list[Tried]) -> list[Seen]:
    """The chooser's view of ``pool``, each code once: the same code twice (the greedy answer
    and its greedy continuation often coincide) is one opinion, not an agreement."""
    codes: set[str] = set()
    out = []
    for t in pool:
        key = code_key(t.candidate.code)
        if key not in codes:
            codes.add(key)
            out.append(seen(t))
    return out


def seen(t: Tried) -> Seen:
    r = t.report
    return Seen(t.candidate.index, r.loaded, r.passed, r.total, tuple(r.behaviour))


def agreement(chosen: Seen, views: list[Seen]) -> str:
    """How many distinct candidates that pass every check behave like the chosen one."""
    passing = [v for v in views if v.ok]
    alike = sum(v.behaviour == chosen.behaviour for v in passing)
    return f"{alike} of {len(passing)} passing candidates behave alike"
