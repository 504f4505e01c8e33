"""The agent loop: one pipeline behind the magic, the CLI, the panel and the benchmark.

plan → context → generate candidates → run them against the checks in a throwaway kernel →
repair the best failing one, stopping as soon as every check passes. The stages live in their
own modules and the ways of combining them in :mod:`.strategies`; this one validates the
request, picks a strategy and reports what happened as events.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..context.types import ContextProvider
from ..models.llm import ChatModel, structured
from . import events as ev
from . import plan as planner
from .checks import Check, dedupe, extract_checks, user_checks
from .code import named_function, stub_entry_point
from .events import MAX_INPUT_CHARS, Event, EventSink, Request, Result, TaskError
from .generate import task_messages
from .generate_prompts import FIX_TASK
from .notebook import describe_changes, invented_overwrites, notebook_checks
from .repair import repair_messages
from .settings import LoopSettings
from .strategies import Best, BestOf, Job, Parts, SelfTested, Single, Strategy, Unit, Voted
from .verify import Verifier

if TYPE_CHECKING:
    from ..sandbox import Sandbox

NO_TESTS = "ran without error; no tests"
ON_STATE = "ran on copies of your variables without error; no tests"
RUNS = Check("pass", "fix", "runs without the error")


def _ignore(_event: Event) -> None:
    pass


def gather_checks(task: str, context: str, entry: str | None) -> list[Check]:
    """What the user gave as tests: asserts/tests/doctests in the cell, examples in the task."""
    found = user_checks(context) if context.strip() else []
    found += extract_checks(task, entry)
    if context.strip():
        found += extract_checks(context, entry)
    return dedupe(found)


def validate(request: Request) -> str:
    """The task, stripped; raises :class:`TaskError` when the request is unusable."""
    task = request.task.strip()
    if not task:
        raise TaskError("empty task: say what the code should do")
    size = len(task) + len(request.context)
    if size > MAX_INPUT_CHARS:
        raise TaskError(
            f"the task and its context are {size:,} characters; a small model sees a few thousand "
            "tokens. Keep the cell short and put large material in project files: retrieval picks "
            "the relevant parts."
        )
    return task


class Pipeline:
    """Runs requests on one model with its loop settings, emitting events to ``sink``.

    ``sandbox`` is a :class:`~smallcode_jupyter.sandbox.Sandbox` owned by the caller (kept warm
    across requests); without one, nothing runs: the loop only generates.
    """

    def __init__(
        self,
        llm: ChatModel,
        settings: LoopSettings,
        sink: EventSink | None = None,
        sandbox: Sandbox | None = None,
        context: ContextProvider | None = None,
    ) -> None:
        self.llm, self.settings = llm, settings
        self.sink = sink or _ignore
        self.sandbox = sandbox
        self.context = context

    def emit(self, event: Event) -> None:
        self.sink(event)

    def run(self, request: Request) -> Result:
        """Solve ``request``; always returns the best code found (check ``passed``)."""
        t0 = time.perf_counter()
        task = validate(request)
        self.emit(ev.Start(task=task, model=self.llm.name))
        sandbox = self.sandbox if request.run else None
        state = request.state
        verifier = Verifier(sandbox, min(request.timeout, 5.0), state) if sandbox is not None else None
        job = Job(self.llm, self.settings, request, task, self.emit, verifier, self.context)
        try:
            self.copy_state(request, verifier)
            entry = request.entry_point or stub_entry_point(task) or named_function(task)
            if request.fix is not None:
                entry = None
            checks = gather_checks(task, request.context, entry) if verifier else []
            if verifier and job.notebook:
                checks = dedupe([*checks, *notebook_checks(task, job.user_names)])
            if verifier and request.fix is not None:
                checks = [RUNS, *checks]
            if verifier:
                sources = ", ".join(sorted({c.source for c in checks}))
                labels = tuple(c.label for c in checks)[:20]
                self.emit(ev.Checks(count=len(checks), sources=sources, labels=labels))
            best = self.pick(job, entry, checks).solve()
        except KeyboardInterrupt:
            request.cancel.set()
            if sandbox is not None:
                sandbox.cancel()
            raise
        finally:
            if verifier is not None:
                verifier.reset()  # the next request starts on the warm spare kernel
        result = job.result
        conclude(result, best, verified=bool(checks), on_state=job.notebook)
        if best.report is None and job.user_names:  # nothing ran: at least never insert made-up data
            result.overwrites = invented_overwrites(result.code, job.user_names, job.data_names)
        result.seconds = time.perf_counter() - t0
        result.cancelled = request.cancel.is_set()
        self.emit(
            ev.Done(
                summary=result.summary(),
                code=result.code,
                passed=result.passed,
                tests_passed=result.tests_passed,
                tests_total=result.tests_total,
                changed=tuple(result.changed),
            )
        )
        return result

    def copy_state(self, request: Request, verifier: Verifier | None) -> None:
        """Copy the user's variables into the sandbox (when anything runs) and say what the
        model sees of them."""
        state = request.state
        if state is None or not (state.names or state.blobs):
            return
        t0 = time.perf_counter()
        skipped = dict(state.skipped)
        copied: list[str] = []
        if verifier is not None:
            try:
                copy = verifier.load_state()
            except OSError as e:  # e.g. a full disk: run without the copies, and say so
                copy = None
                skipped.update(dict.fromkeys(state.blobs, f"could not be copied: {e}"))
            if copy is not None:
                copied = copy.copied
                skipped.update(copy.notes)
        self.emit(
            ev.State(
                names=tuple(state.names),
                description=state.description,
                copied=tuple(copied),
                skipped=tuple(f"{n}: {why}" for n, why in skipped.items()),
                seconds=round(state.seconds + time.perf_counter() - t0, 3),
            )
        )

    def pick(self, job: Job, entry: str | None, checks: list[Check]) -> Strategy:
        """Best-of when the request has a budget; parts when the task splits into a usable plan;
        otherwise one unit, tested by the model itself when nothing else can test it."""
        request, task = job.request, job.task
        if request.fix is not None:
            fix = request.fix
            context, snippets = job.context_for(fix.source)
            task_block = FIX_TASK + (f"\n\nContext:\n```\n{context}\n```" if context else "")
            messages = repair_messages(task_block, fix.source, fix.error, rewrite=False)
            return Single(job, Unit(task, None, messages, checks, snippets=snippets))
        if request.budget > 0:
            # The benchmarks' baseline prompts with the task exactly as given (most HumanEval
            # prompts start with blank lines), as it always has: its counts stay comparable.
            return BestOf(job, self.unit(job, entry, checks, request.task), request.budget)
        if request.plan and self.settings.decompose and structured(self.llm) and not planner.is_atomic(task):
            parts = planner.make_plan(self.llm, task, job.usage, cancel=request.cancel)
            if parts:
                subtasks = tuple(ev.Subtask(p.name, p.signature, p.purpose, tuple(p.depends)) for p in parts)
                self.emit(ev.Plan(subtasks=subtasks))
                job.result.subtasks = [p.name for p in parts]
                return Parts(job, parts, checks)
        unit = self.unit(job, entry, checks)
        if job.verifier is not None and not checks and not job.notebook:
            return SelfTested(job, unit)
        vote = self.settings.vote if request.vote is None else request.vote
        if job.verifier is not None and entry and not job.notebook and vote:
            return Voted(job, unit)
        return Single(job, unit)  # a notebook task: at least, it must run on the user's data

    def unit(self, job: Job, entry: str | None, checks: list[Check], task: str | None = None) -> Unit:
        """The whole task (``job.task`` unless given) as one unit, with its retrieved context."""
        task = job.task if task is None else task
        context, snippets = job.context_for(task)
        messages = task_messages(task, context, notebook=job.notebook)
        return Unit(task, entry, messages, checks, snippets=snippets)


def conclude(result: Result, best: Best, verified: bool, on_state: bool = False) -> None:
    """Fill ``result`` from the strategy's answer.

    Only the user's or the task's own checks give a verdict. Without them, code that runs is
    unverified (``passed`` None) and ``evidence`` says what the weaker evidence said; code that
    does not even run has failed.
    """
    result.code = best.candidate.code
    r = best.report
    if r is None:
        return
    result.changed = describe_changes(r.changed)
    result.overwrites = list(r.overwrites)
    if not r.ok:  # a failing attempt is offered, never one that would replace the user's variables
        result.overwrites += [n for n, how in r.changed.items() if how in ("rebound", "deleted")]
    result.tests_passed, result.tests_total = r.passed, r.total
    if verified or not r.loaded:
        result.passed = r.ok
        result.failure = "" if r.ok else r.first_failure()
    else:
        result.passed = None
        result.evidence = best.evidence or (ON_STATE if on_state else NO_TESTS)
