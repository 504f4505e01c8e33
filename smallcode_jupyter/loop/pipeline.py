"""The agent loop: one pipeline behind the magic, the CLI, the panel and the benchmark.

plan → context → generate candidates → run them against the checks in a throwaway kernel →
repair the best failing one, stopping as soon as every check passes. Each stage lives in its own
module; this one only decides what happens next and reports it as events.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from ..models.llm import ChatModel, Message
from ..models.catalog import LoopSettings
from . import plan as planner
from .checks import Check, extract_checks, user_checks
from .code import named_function, stub_entry_point
from ..context.pack import pack, render
from ..context.types import ContextProvider, Snippet
from .events import MAX_INPUT_CHARS, Event, EventSink, Request, Result, TaskError, Usage
from .generate import Candidate, Generator, origin, task_messages
from .imports import add_missing_imports
from .repair import repair_messages
from .selftest import vote, write_tests
from .verify import Report, Verifier


def _ignore(_event: Event) -> None:
    pass


def gather_checks(task: str, context: str, entry: str | None) -> list[Check]:
    """What the user gave as tests: asserts/tests/doctests in the cell, examples in the task."""
    found = user_checks(context) if context.strip() else []
    found += extract_checks(task, entry)
    if context.strip():
        found += extract_checks(context, entry)
    unique: dict[str, Check] = {}
    for c in found:
        unique.setdefault(c.code, c)
    return list(unique.values())


@dataclass
class _Best:
    candidate: Candidate
    report: Report | None


@dataclass
class _Unit:
    """One (sub-)task being solved: its prompt, its checks, and what was already tried."""

    task: str
    entry: str | None
    messages: list[Message]
    checks: list[Check]
    part: str = ""
    snippets: list[Snippet] = field(default_factory=list)  # retrieved context shown to the model
    seen: dict[str, Report] = field(default_factory=dict)

    def finish(self, code: str) -> str:
        """Add imports the code forgot for helpers it was shown (the 0.5B model often does)."""
        return add_missing_imports(code, self.snippets) if self.snippets else code

    @property
    def stub(self) -> bool:
        return bool(self.entry) and stub_entry_point(self.task) is not None


class Pipeline:
    """Runs requests on one model with its loop settings, emitting events to ``sink``.

    ``sandbox`` is a :class:`~smallcode_jupyter.sandbox.Sandbox` owned by the caller (kept warm
    across requests); without one, the pipeline starts its own when a request needs to run code.
    """

    def __init__(
        self,
        llm: ChatModel,
        settings: LoopSettings,
        sink: EventSink | None = None,
        sandbox: object | None = None,
        context: ContextProvider | None = None,
    ) -> None:
        self.llm, self.settings = llm, settings
        self.sink = sink or _ignore
        self.sandbox = sandbox
        self.context = context

    def emit(self, kind: str, **data: object) -> None:
        self.sink(Event(kind, data))

    def run(self, request: Request) -> Result:
        """Solve ``request``; always returns the best code found (check ``passed``)."""
        t0 = time.perf_counter()
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
        self.emit("start", task=task, model=self.llm.name)
        own_sandbox = None
        if request.run and self.sandbox is None:
            from ..sandbox import Sandbox

            own_sandbox = Sandbox(timeout=request.timeout, project=os.getcwd()).start()
        sandbox = (self.sandbox or own_sandbox) if request.run else None
        run = _Run(self, request, task, Verifier(sandbox, min(request.timeout, 5.0)) if sandbox else None)
        try:
            best = run.solve()
        except KeyboardInterrupt:
            request.cancel.set()
            if sandbox is not None:
                sandbox.cancel()
            raise
        finally:
            if own_sandbox is not None:
                own_sandbox.close()
            elif run.verifier is not None:
                run.verifier.reset()  # the next request starts on the warm spare kernel
        result = run.result
        result.code = best.candidate.code
        if best.report is not None:
            r = best.report
            result.passed, result.tests_passed, result.tests_total = r.ok, r.passed, r.total
            result.failure = "" if r.ok else r.first_failure()
        result.seconds = time.perf_counter() - t0
        result.cancelled = request.cancel.is_set()
        self.emit("done", summary=result.summary(), code=result.code, passed=result.passed,
                  tests_passed=result.tests_passed, tests_total=result.tests_total)  # fmt: skip
        return result


class _Run:
    """The state of one request while the loop works on it."""

    def __init__(self, pipeline: Pipeline, request: Request, task: str, verifier: Verifier | None) -> None:
        self.p, self.request, self.task, self.verifier = pipeline, request, task, verifier
        self.settings = pipeline.settings
        self.result = Result(task, "", pipeline.llm.name, None, usage=Usage())
        self.n_candidates = request.candidates or self.settings.candidates
        self.n_repairs = self.settings.max_iters if request.max_iters is None else request.max_iters
        max_tokens = request.max_tokens or self.settings.max_tokens
        self.gen = Generator(pipeline.llm, max_tokens, self.settings.temperature)

    @property
    def cancelled(self) -> bool:
        return self.request.cancel.is_set()

    def solve(self) -> _Best:
        req, task = self.request, self.task
        entry = req.entry_point or stub_entry_point(task) or named_function(task)
        checks = gather_checks(task, req.context, entry) if self.verifier else []
        if self.verifier:
            sources = ", ".join(sorted({c.source for c in checks}))
            self.p.emit("checks", count=len(checks), sources=sources, labels=[c.label for c in checks][:20])
        parts = []
        if req.plan and self.settings.decompose and not planner.is_atomic(task):
            parts = planner.make_plan(self.p.llm, task, self.result.usage, cancel=req.cancel)
            if parts:
                self.p.emit("plan", subtasks=[{"name": p.name, "signature": p.signature,
                                               "purpose": p.purpose, "depends": p.depends} for p in parts])  # fmt: skip
                self.result.subtasks = [p.name for p in parts]
                return self.solve_parts(parts, checks)
        context, snippets = self.context_for(task)
        return self.solve_unit(_Unit(task, entry, task_messages(task, context), checks, snippets=snippets))

    # -- helpers ------------------------------------------------------------------------------------
    def context_for(self, query: str) -> tuple[str, list[Snippet]]:
        """The user's context plus retrieved snippets that fit the budget (and those snippets)."""
        req, provider = self.request, self.p.context
        if not (req.use_context and provider is not None):
            return req.context, []
        snippets = pack(provider.retrieve(query), self.settings.context_budget, self.p.llm.count_tokens)
        if snippets:
            sources = [s.source for s in snippets]
            self.result.sources.extend(s for s in sources if s not in self.result.sources)
            self.p.emit("context", sources=sources)
        return "\n\n".join(t for t in (req.context.strip(), render(snippets)) if t), snippets

    def check(self, unit: _Unit, cand: Candidate, checks: list[Check] | None = None) -> Report:
        """Run a candidate against the unit's checks (or ``checks``), once per distinct code."""
        weak = checks is not None
        key = cand.code if not weak else f"model-tests\0{cand.code}"
        if key in unit.seen:  # identical code: same verdict, no need to run it again
            return unit.seen[key]
        report = self.verifier.run(cand.code, unit.checks if checks is None else checks)
        unit.seen[key] = report
        self.p.emit("run", candidate=cand.index, ok=report.ok, passed=report.passed, total=report.total,
                    loaded=report.loaded, failure=report.first_failure()[:300], weak=weak,
                    traceback=report.failures[0].traceback if report.failures else "")  # fmt: skip
        return report

    def candidate(self, unit: _Unit, i: int) -> Candidate:
        self.p.emit("generate", candidate=i, origin=origin(i, unit.stub), part=unit.part)
        if i == 0:
            self.p.emit("prompt", text=unit.messages[-1]["content"])
        self.result.candidates += 1
        on_token = (lambda t: self.p.emit("token", text=t)) if i == 0 else None
        cand = self.gen.candidates(unit.messages, unit.task, unit.entry, i, 1, self.result.usage,
                                   on_token, self.request.cancel)[0]  # fmt: skip
        cand.code = unit.finish(cand.code)
        return cand

    # -- strategies ---------------------------------------------------------------------------------
    def solve_unit(self, unit: _Unit) -> _Best:
        """Candidates until one passes every check, then repair of the best failing one."""
        first = self.candidate(unit, 0)
        if self.verifier is None or self.cancelled:
            return _Best(first, None)
        best = _Best(first, self.check(unit, first))
        if not unit.checks:
            return self.solve_untested(unit, best)
        for i in range(1, self.n_candidates):
            if best.report.ok or self.cancelled:
                return best
            cand = self.candidate(unit, i)
            report = self.check(unit, cand)
            if report.score > best.report.score:
                best = _Best(cand, report)
        return self.repair(unit, best, self.n_repairs)

    def repair(self, unit: _Unit, best: _Best, rounds: int) -> _Best:
        """Sampled fixes (code + failure) alternating with hinted rewrites (failure only)."""
        for it in range(1, rounds + 1):
            if best.report.ok or self.cancelled:
                break
            rewrite = it % 2 == 0 and best.report.loaded
            failure = best.report.first_failure()
            tb = best.report.failures[0].traceback if best.report.failures else ""
            if tb and not rewrite and "AssertionError" not in failure:
                failure += "\n" + tb
            kind = "rewrite" if rewrite else "fix"
            self.p.emit("repair", iteration=it, origin=kind, failure=failure[:300])
            self.result.iterations += 1
            self.result.candidates += 1
            msgs = repair_messages(unit.messages[-1]["content"], best.candidate.code, failure, rewrite)
            self.p.emit("prompt", text=msgs[-1]["content"])
            code = self.gen.one(msgs, unit.task, unit.entry, self.result.usage, self.settings.temperature or 0.7,
                                seed=2000 + it, cancel=self.request.cancel)  # fmt: skip
            cand = Candidate(unit.finish(code), kind, self.result.candidates - 1)
            report = self.check(unit, cand)
            if report.score > best.report.score:
                best = _Best(cand, report)
        return best

    def solve_untested(self, unit: _Unit, best: _Best) -> _Best:
        """No user tests and no examples: the model writes tests, and candidates vote on them."""
        if not best.report.loaded or not unit.entry:
            return self.repair(unit, best, self.n_repairs)  # only "does it run" to go by
        tests = write_tests(self.p.llm, unit.task, unit.entry, self.result.usage, cancel=self.request.cancel)
        if not tests:
            return best
        self.p.emit("checks", count=len(tests), sources="model", labels=[t.label for t in tests])
        pool = [(best.candidate, self.check(unit, best.candidate, tests))]
        if pool[0][1].ok:
            return _Best(*pool[0])
        for i in range(1, self.n_candidates):
            if self.cancelled:
                break
            cand = self.candidate(unit, i)
            if all(cand.code != c.code for c, _ in pool):
                pool.append((cand, self.check(unit, cand, tests)))
        loaded = [(c, r) for c, r in pool if r.loaded]
        keep = vote([r.outcomes for _, r in loaded])
        if not any(keep):
            return best

        def agreed(r: Report) -> int:
            return sum(o and k for o, k in zip(r.outcomes, keep, strict=False))

        return _Best(*max(loaded, key=lambda cr: (agreed(cr[1]), -cr[0].index)))

    def solve_parts(self, parts: list[planner.Part], checks: list[Check]) -> _Best:
        """One small-context call per part, assembled in dependency order, then tested together.

        A failing check that calls one part's function sends only that part back for a hinted
        rewrite (its own small call again); other failures repair the assembled program.
        """
        plan = "\n".join(f"- {p.describe()}" for p in parts)
        signatures = {p.name: p.signature for p in parts}
        codes: dict[str, str] = {}

        def part_unit(p: planner.Part, hint: str = "") -> _Unit:
            deps = "\n".join(_signature_of(codes.get(d, ""), d) or signatures[d] for d in p.depends)
            sub = f"Write `{p.signature}`: {p.purpose}"
            context, snippets = self.context_for(sub)
            msgs = task_messages(sub, context, plan, deps)
            if hint:
                msgs = repair_messages(msgs[-1]["content"], "", hint, rewrite=True)
            return _Unit(sub, None, msgs, [], part=p.name, snippets=snippets)

        for p in parts:
            if self.cancelled:
                break
            codes[p.name] = self.candidate(part_unit(p), 0).code
        whole = _Unit(self.task, None, task_messages(self.task, self.request.context), checks)
        cand = Candidate(planner.assemble(list(codes.values())), "assembled", 0)
        if self.verifier is None:
            return _Best(cand, None)
        best = _Best(cand, self.check(whole, cand))
        rounds = self.n_repairs
        while rounds > 0 and not best.report.ok and not self.cancelled:
            failing = best.report.failures[0].label if best.report.failures else ""
            owner = next((p for p in parts if failing.startswith(f"{p.name}(")), None)
            if owner is None:
                break
            rounds -= 1
            self.result.iterations += 1
            self.result.candidates += 1
            self.p.emit("repair", iteration=self.result.iterations, origin=f"rewrite {owner.name}",
                        failure=best.report.first_failure()[:300])  # fmt: skip
            unit = part_unit(owner, best.report.first_failure())
            code = self.gen.one(unit.messages, unit.task, None, self.result.usage, self.settings.temperature or 0.7,
                                seed=3000 + rounds, cancel=self.request.cancel)  # fmt: skip
            trial = {**codes, owner.name: unit.finish(code)}
            cand = Candidate(planner.assemble(list(trial.values())), "part rewrite", self.result.candidates - 1)
            report = self.check(whole, cand)
            if report.score > best.report.score:
                best, codes = _Best(cand, report), trial
        return self.repair(whole, best, rounds)


def _signature_of(code: str, name: str) -> str:
    """The ``def``/``class`` line of ``name`` in ``code`` (what dependants need to see)."""
    for line in code.splitlines():
        s = line.strip()
        if s.startswith((f"def {name}(", f"class {name}(", f"class {name}:", f"async def {name}(")):
            return s.rstrip(":")
    return ""
