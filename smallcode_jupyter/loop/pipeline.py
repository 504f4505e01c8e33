"""The agent loop: one pipeline behind the magic, the CLI, the panel and the benchmark.

plan → context → generate candidates → run them against the checks in a throwaway kernel →
repair the best failing one, stopping as soon as every check passes. Each stage lives in its own
module; this one only decides what happens next and reports it as events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..llm import ChatModel, Message
from ..models.catalog import LoopSettings
from . import plan as planner
from .checks import Check, extract_checks, user_checks
from .code import named_function, stub_entry_point
from .context import ContextProvider, pack, render
from .events import MAX_INPUT_CHARS, Event, EventSink, Request, Result, TaskError, Usage
from .generate import Candidate, Generator, origin, task_messages
from .repair import repair_messages
from .selftest import vote, write_tests
from .verify import Report, Verifier


def _ignore(_event: Event) -> None:
    pass


@dataclass
class _Best:
    candidate: Candidate
    report: Report | None


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

    # -- entry point ------------------------------------------------------------------------------
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
        entry = request.entry_point or stub_entry_point(task) or named_function(task)
        usage = Usage()
        state = Result(task, "", self.llm.name, None, usage=usage)
        self.emit("start", task=task, model=self.llm.name)
        checks = gather_checks(task, request.context, entry) if request.run else []
        if request.run:
            kinds = sorted({c.source for c in checks})
            self.emit("checks", count=len(checks), sources=", ".join(kinds), labels=[c.label for c in checks][:20])
        own_sandbox = None
        verifier = None
        try:
            if request.run:
                if self.sandbox is None:
                    from ..sandbox import Sandbox

                    own_sandbox = Sandbox(timeout=request.timeout).start()
                verifier = Verifier(self.sandbox or own_sandbox, check_timeout=min(request.timeout, 5.0))
            parts = []
            if request.plan and self.settings.decompose and not planner.is_atomic(task):
                parts = planner.make_plan(self.llm, task, usage, cancel=request.cancel)
                if parts:
                    self.emit("plan", subtasks=[{"name": p.name, "signature": p.signature,
                                                 "purpose": p.purpose, "depends": p.depends} for p in parts])  # fmt: skip
                    state.subtasks = [p.name for p in parts]
            if parts:
                best = self._solve_parts(task, parts, request, checks, verifier, state)
            else:
                best = self._solve(task, request, entry, checks, verifier, state)
        except KeyboardInterrupt:
            request.cancel.set()
            sandbox = self.sandbox or own_sandbox
            if sandbox is not None:
                sandbox.cancel()
            raise
        finally:
            if own_sandbox is not None:
                own_sandbox.close()
            elif verifier is not None:
                verifier.reset()  # the next request starts on the warm spare kernel
        self._finish(state, best, checks)
        state.seconds = time.perf_counter() - t0
        state.cancelled = request.cancel.is_set()
        self.emit("done", summary=state.summary(), code=state.code, passed=state.passed,
                  tests_passed=state.tests_passed, tests_total=state.tests_total)  # fmt: skip
        return state

    # -- stages ---------------------------------------------------------------------------------------
    def _context_for(self, query: str, request: Request, state: Result) -> str:
        """The user's context plus retrieved snippets that fit the budget."""
        if not (request.use_context and self.context is not None):
            return request.context
        snippets = pack(self.context.retrieve(query), self.settings.context_budget, self.llm.count_tokens)
        if snippets:
            sources = [s.source for s in snippets]
            state.sources.extend(s for s in sources if s not in state.sources)
            self.emit("context", sources=sources)
        return "\n\n".join(t for t in (request.context.strip(), render(snippets)) if t)

    def _check(self, verifier: Verifier, cand: Candidate, checks: list[Check], seen: dict[str, Report]) -> Report:
        if cand.code in seen:  # identical code: same verdict, no need to run it again
            return seen[cand.code]
        report = verifier.run(cand.code, checks)
        seen[cand.code] = report
        self.emit("run", candidate=cand.index, ok=report.ok, passed=report.passed, total=report.total,
                  loaded=report.loaded, failure=report.first_failure()[:300],
                  traceback=report.failures[0].traceback if report.failures else "")  # fmt: skip
        return report

    def _solve(
        self,
        task: str,
        request: Request,
        entry: str | None,
        checks: list[Check],
        verifier: Verifier | None,
        state: Result,
        plan: str = "",
        depends: str = "",
        part: str = "",
    ) -> _Best:
        """Candidates, checks and repair for one (sub-)task."""
        cancel = request.cancel
        n_cands = request.candidates or self.settings.candidates
        n_repairs = self.settings.max_iters if request.max_iters is None else request.max_iters
        gen = Generator(self.llm, request.max_tokens or self.settings.max_tokens, self.settings.temperature)
        messages = task_messages(task, self._context_for(task, request, state), plan, depends)
        on_token: Callable[[str], None] = lambda t: self.emit("token", text=t)  # noqa: E731
        stub = bool(entry) and stub_entry_point(task) is not None

        def candidate(i: int) -> Candidate:
            self.emit("generate", candidate=i, origin=origin(i, stub), part=part)
            if i == 0:
                self.emit("prompt", text=messages[-1]["content"])
            state.candidates += 1
            return gen.candidates(messages, task, entry, i, 1, state.usage, on_token, cancel)[0]

        first = candidate(0)
        if verifier is None or cancel.is_set():
            return _Best(first, None)
        seen: dict[str, Report] = {}
        best = _Best(first, self._check(verifier, first, checks, seen))
        if not checks:
            return self._solve_untested(task, entry, best, candidate, n_cands, verifier, seen, messages, state, request)
        for i in range(1, n_cands):
            if best.report.ok or cancel.is_set():
                return best
            cand = candidate(i)
            report = self._check(verifier, cand, checks, seen)
            if report.score > best.report.score:
                best = _Best(cand, report)
        return self._repair(task, entry, best, checks, verifier, seen, messages, state, request, n_repairs, gen)

    def _repair(self, task, entry, best: _Best, checks, verifier, seen, messages: list[Message], state: Result,
                request: Request, n_repairs: int, gen: Generator) -> _Best:  # fmt: skip
        """Sampled fixes and hinted rewrites of the best failing candidate."""
        task_user = messages[-1]["content"]
        for it in range(1, n_repairs + 1):
            if best.report.ok or request.cancel.is_set():
                break
            rewrite = it % 2 == 0 and best.report.loaded
            failure = best.report.first_failure()
            tb = best.report.failures[0].traceback if best.report.failures else ""
            if tb and not rewrite and "AssertionError" not in failure:
                failure += "\n" + tb
            origin = "rewrite" if rewrite else "fix"
            self.emit("repair", iteration=it, origin=origin, failure=failure[:300])
            state.iterations += 1
            state.candidates += 1
            msgs = repair_messages(task_user, best.candidate.code, failure, rewrite)
            self.emit("prompt", text=msgs[-1]["content"])
            code = gen.one(msgs, task, entry, state.usage, temperature=self.settings.temperature or 0.7,
                           seed=2000 + it, cancel=request.cancel)  # fmt: skip
            cand = Candidate(code, origin, state.candidates - 1)
            report = self._check(verifier, cand, checks, seen)
            if report.score > best.report.score:
                best = _Best(cand, report)
        return best

    def _solve_untested(self, task, entry, best: _Best, candidate, n_cands, verifier, seen, messages,
                        state: Result, request: Request) -> _Best:  # fmt: skip
        """No user tests and no examples: the model writes tests, candidates vote on them."""
        if not best.report.loaded or not entry:
            # Nothing to test against but "does it run": repair only if it does not.
            n = self.settings.max_iters if request.max_iters is None else request.max_iters
            gen = Generator(self.llm, request.max_tokens or self.settings.max_tokens, self.settings.temperature)
            return self._repair(task, entry, best, [], verifier, seen, messages, state, request, n, gen)
        tests = write_tests(self.llm, task, entry, state.usage, cancel=request.cancel)
        if not tests:
            return best
        self.emit("checks", count=len(tests), sources="model", labels=[t.label for t in tests])
        pool = [(best.candidate, verifier.run(best.candidate.code, tests))]
        self._emit_run(pool[0])
        if pool[0][1].ok:
            return _Best(best.candidate, pool[0][1])
        for i in range(1, n_cands):
            if request.cancel.is_set():
                break
            cand = candidate(i)
            if cand.code in (c.code for c, _ in pool):
                continue
            pool.append((cand, verifier.run(cand.code, tests)))
            self._emit_run(pool[-1])
        loaded = [(c, r) for c, r in pool if r.loaded]
        keep = vote([r.outcomes for _, r in loaded]) if loaded else []
        if not any(keep):
            return best
        def kept(r: Report) -> int:
            return sum(o for o, k in zip(r.outcomes, keep, strict=False) if k)

        winner, report = max(loaded, key=lambda cr: (kept(cr[1]), -cr[0].index))
        return _Best(winner, report)

    def _emit_run(self, pair: tuple[Candidate, Report]) -> None:
        cand, r = pair
        self.emit("run", candidate=cand.index, ok=r.ok, passed=r.passed, total=r.total, loaded=r.loaded,
                  failure=r.first_failure()[:300], traceback="", weak=True)  # fmt: skip

    def _solve_parts(self, task, parts, request: Request, checks, verifier, state: Result) -> _Best:
        """One small-context call per part, assembled in dependency order, then tested together.

        A failing check that calls one part's function sends only that part back for a hinted
        rewrite (its own small call again); other failures repair the assembled program.
        """
        plan = "\n".join(f"- {p.describe()}" for p in parts)
        codes: dict[str, str] = {}

        def part_messages(p, hint: str = "") -> tuple[str, list[Message]]:
            deps = "\n".join(_signature_of(codes.get(d, ""), d) or by_name(parts, d).signature for d in p.depends)
            sub = f"Write `{p.signature}`: {p.purpose}"
            ctx = self._context_for(sub, request, state)
            msgs = task_messages(sub, ctx, plan, deps)
            if hint:
                msgs = repair_messages(msgs[-1]["content"], "", hint, rewrite=True)
            return sub, msgs

        gen = Generator(self.llm, request.max_tokens or self.settings.max_tokens, self.settings.temperature)
        for p in parts:
            if request.cancel.is_set():
                break
            sub, msgs = part_messages(p)
            self.emit("generate", candidate=0, origin="greedy", part=p.name)
            state.candidates += 1
            codes[p.name] = gen.one(msgs, sub, None, state.usage, on_token=lambda t: self.emit("token", text=t),
                                    cancel=request.cancel)  # fmt: skip
        cand = Candidate(planner.assemble(list(codes.values())), "assembled", 0)
        if verifier is None:
            return _Best(cand, None)
        seen: dict[str, Report] = {}
        best = _Best(cand, self._check(verifier, cand, checks, seen))
        n_repairs = self.settings.max_iters if request.max_iters is None else request.max_iters
        for it in range(1, n_repairs + 1):
            failing = best.report.failures[0].label if best.report.failures else ""
            owner = next((p for p in parts if failing.startswith(f"{p.name}(")), None)
            if best.report.ok or request.cancel.is_set() or owner is None:
                break
            self.emit("repair", iteration=it, origin=f"rewrite {owner.name}", failure=best.report.first_failure()[:300])
            state.iterations += 1
            state.candidates += 1
            sub, msgs = part_messages(owner, best.report.first_failure())
            trial = dict(codes)
            trial[owner.name] = gen.one(msgs, sub, None, state.usage, temperature=self.settings.temperature or 0.7,
                                        seed=3000 + it, cancel=request.cancel)  # fmt: skip
            cand = Candidate(planner.assemble(list(trial.values())), "part-rewrite", state.candidates - 1)
            report = self._check(verifier, cand, checks, seen)
            if report.score > best.report.score:
                best, codes = _Best(cand, report), trial
        remaining = n_repairs - state.iterations
        if best.report.ok or remaining <= 0:
            return best
        gen2 = Generator(self.llm, request.max_tokens or self.settings.max_tokens * 2, self.settings.temperature)
        messages = task_messages(task, request.context)
        return self._repair(task, None, best, checks, verifier, seen, messages, state, request, remaining, gen2)

    def _finish(self, state: Result, best: _Best, checks: list[Check]) -> None:
        state.code = best.candidate.code
        r = best.report
        if r is None:
            state.passed = None
            return
        state.tests_passed, state.tests_total = r.passed, r.total
        state.passed = r.ok
        if not r.ok:
            state.failure = r.first_failure()


def by_name(parts, name):
    return next(p for p in parts if p.name == name)


def _signature_of(code: str, name: str) -> str:
    """The ``def``/``class`` line of ``name`` in ``code`` (what dependants need to see)."""
    for line in code.splitlines():
        s = line.strip()
        if s.startswith((f"def {name}(", f"class {name}(", f"class {name}:", f"async def {name}(")):
            return s.rstrip(":")
    return ""
