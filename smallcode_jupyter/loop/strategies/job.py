"""What every strategy works with: the job (one request being solved), its units and the best so far.

A :class:`Job` holds only what the strategies share: the generator, the verifier (None: nothing
runs), the result being filled in (usage, counts), the cancel flag and the event sink. Each
strategy takes a job and the little else it needs, so none of them reaches back into the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ...context.pack import pack, render
from ...context.types import ContextProvider, Snippet
from ...models.llm import ChatModel, Message
from .. import events as ev
from ..checks import Check
from ..code import stub_entry_point
from ..events import EventSink, Request, Result, Usage
from ..generate import Candidate, Generator, origin
from ..imports import add_missing_imports
from ..notebook import STATE_HEADER, drop_overwrites, invented_overwrites, only_defines, overwrite_message
from ..settings import LoopSettings
from ..verify import Failure, Report, Verifier


@dataclass
class Tried:
    """A candidate that ran, and its report."""

    candidate: Candidate
    report: Report


@dataclass
class Best:
    """A strategy's answer: the chosen candidate and its report (None: nothing ran).

    ``evidence`` is set when nothing stronger than the model's own tests exists: what they said
    (evidence, not a verdict).
    """

    candidate: Candidate
    report: Report | None = None
    evidence: str = ""

    @classmethod
    def of(cls, tried: Tried, evidence: str = "") -> Best:
        return cls(tried.candidate, tried.report, evidence)


@dataclass
class Unit:
    """One (sub-)task being solved: its prompt, its checks, and what was already tried."""

    task: str
    entry: str | None
    messages: list[Message]
    checks: list[Check]
    part: str = ""
    snippets: list[Snippet] = field(default_factory=list)  # retrieved context shown to the model
    seen: dict[str, Report] = field(default_factory=dict)
    probes: list[Check] = field(default_factory=list)  # run after the checks, for behaviour (probes.py)

    def finish(self, code: str) -> str:
        """Add imports the code forgot for helpers it was shown (the 0.5B model often does)."""
        return add_missing_imports(code, self.snippets) if self.snippets else code

    @property
    def stub(self) -> bool:
        return bool(self.entry) and stub_entry_point(self.task) is not None


class Job:
    """One request while a strategy works on it."""

    def __init__(
        self,
        llm: ChatModel,
        settings: LoopSettings,
        request: Request,
        task: str,
        emit: EventSink,
        verifier: Verifier | None = None,
        context: ContextProvider | None = None,
    ) -> None:
        self.llm, self.settings, self.request, self.task = llm, settings, request, task
        self.emit, self.verifier, self.context = emit, verifier, context
        self.result = Result(task, "", llm.name, None, usage=Usage())
        self.n_candidates = request.candidates or settings.candidates
        self.n_repairs = settings.max_iters if request.max_iters is None else request.max_iters
        # The voted strategy's own schedule (a size class may trade its repairs for samples);
        # what the user asked for wins.
        self.n_voted = request.candidates or settings.vote_candidates or self.n_candidates
        self.n_voted_repairs = (
            self.n_repairs
            if request.max_iters is not None or settings.vote_repairs is None
            else settings.vote_repairs
        )
        self.gen = Generator(llm, request.max_tokens or settings.max_tokens, settings.temperature)
        state = request.state
        self.user_names = state.user_names if state is not None else frozenset()
        self.data_names = state.data_names if state is not None else None
        # A notebook task: about the user's live variables (described to the model), or a fix.
        self.notebook = request.fix is not None or (state is not None and bool(state.names))

    @property
    def usage(self) -> Usage:
        return self.result.usage

    @property
    def cancelled(self) -> bool:
        return self.request.cancel.is_set()

    def context_for(self, query: str) -> tuple[str, list[Snippet]]:
        """The user's context plus retrieved snippets that fit the budget (and those snippets)."""
        req, provider = self.request, self.context
        state = req.state.description.strip() if req.state is not None and req.state.names else ""
        head = f"{STATE_HEADER}\n{state}" if state else ""
        if not (req.use_context and provider is not None):
            return "\n\n".join(t for t in (head, req.context.strip()) if t), []
        found = list(provider.retrieve(query))
        if state:  # the cells that built the described variables would only invite copying their data
            found = [s for s in found if not only_defines(s.text, req.state.names)]  # type: ignore[union-attr]
        snippets = pack(found, self.settings.context_budget, self.llm.count_tokens)
        if snippets:
            sources = [s.source for s in snippets]
            self.result.sources.extend(s for s in sources if s not in self.result.sources)
            self.emit(ev.Context(sources=tuple(sources)))
        return "\n\n".join(t for t in (head, req.context.strip(), render(snippets)) if t), snippets

    def verify(self, code: str, checks: Sequence[Check], probes: Sequence[Check] = ()) -> Report:
        """Run ``code`` against ``checks`` (then ``probes``) in the sandbox."""
        if self.verifier is None:
            raise RuntimeError("nothing runs without a sandbox: check job.verifier first")
        return self.verifier.run(code, checks, probes)

    def report(self, cand: Candidate, report: Report, weak: bool = False) -> None:
        self.emit(
            ev.Run(
                candidate=cand.index,
                ok=report.ok,
                passed=report.passed,
                total=report.total,
                loaded=report.loaded,
                failure=report.first_failure()[:300],
                weak=weak,
                traceback=report.failures[0].traceback if report.failures else "",
            )
        )

    def check(self, unit: Unit, cand: Candidate, checks: list[Check] | None = None) -> Report:
        """Run a candidate against the unit's checks (or ``checks``: the model's own, weak ones),
        once per distinct code."""
        weak = checks is not None
        checks = unit.checks if checks is None else checks
        users, data = self.user_names, self.data_names
        overwritten = invented_overwrites(cand.code, users, data) if users else []
        if overwritten:  # first try it on the real data: without the lines that re-create it
            kept = drop_overwrites(cand.code, users, data)
            if kept.strip() and not invented_overwrites(kept, users, data):
                cand.code, overwritten = kept, []
        key = cand.code if not weak else f"model-tests\0{cand.code}"
        if key in unit.seen:  # identical code: same verdict, no need to run it again (it still votes)
            self.log(cand, unit.seen[key], weak)
            return unit.seen[key]
        if overwritten:  # never offered: running it would replace the user's data with made-up data
            failure = Failure("overwrites your data", overwrite_message(overwritten))
            report = Report(0, len(checks), False, [failure], [False] * len(checks))
            report.overwrites = overwritten
        else:
            report = self.verify(cand.code, checks, unit.probes)
        unit.seen[key] = report
        self.report(cand, report, weak)
        self.log(cand, report, weak)
        return report

    def log(self, cand: Candidate, report: Report | None, weak: bool = False) -> None:
        """Keep ``cand`` in ``result.attempts`` (what the benchmark logs and replays)."""
        a = ev.Attempt(cand.index, cand.origin, cand.temperature, cand.code, tokens=cand.tokens, weak=weak)
        a.seconds = round(cand.seconds, 3)
        if report is not None:
            a.loaded, a.passed, a.total = report.loaded, report.passed, report.total
            a.behaviour, a.outcomes = report.behaviour, report.outcomes
        log = self.result.attempts
        if log and (log[-1].index, log[-1].code) == (a.index, a.code):
            log[-1] = a  # the same candidate run again (with more checks): one attempt, latest run
        else:
            log.append(a)

    def candidate(self, unit: Unit, i: int) -> Candidate:
        """Candidate ``i`` of the unit's fixed schedule; the greedy one is streamed."""
        self.emit(ev.Generate(candidate=i, origin=origin(i, self.continues(unit)), part=unit.part))
        if i == 0:
            self.emit(ev.Prompt(text=unit.messages[-1]["content"]))
        self.result.candidates += 1
        on_token = self.stream if i == 0 else None
        cand = self.gen.candidates(
            unit.messages, unit.task, unit.entry, i, 1, self.usage, on_token, self.request.cancel
        )[0]
        cand.code = unit.finish(cand.code)
        return cand

    def batch(self, unit: Unit, indices: list[int]) -> list[Candidate]:
        """Candidates ``indices``, sampled together in one batch (none if the model cannot)."""
        for i in indices:
            self.emit(ev.Generate(candidate=i, origin="sample", part=unit.part))
        cands = self.gen.batch(unit.messages, unit.task, unit.entry, indices, self.usage, self.request.cancel)
        self.result.candidates += len(cands)
        for cand in cands:
            cand.code = unit.finish(cand.code)
        return cands

    def continues(self, unit: Unit) -> bool:
        """Whether the unit's schedule has stub-continuation candidates (a stub, and a model
        that continues a prefilled message)."""
        return unit.stub and self.gen.prefill

    @property
    def batched(self) -> bool:
        """Whether samples of one prompt are decoded together (the model must offer it, and gain
        from it: a server that takes one request at a time does not, ``RemoteModel.batches``)."""
        wanted = self.settings.batch if self.request.batch is None else self.request.batch
        return (
            wanted and callable(getattr(self.llm, "chat_batch", None)) and getattr(self.llm, "batches", True)
        )

    def greedy(self, unit: Unit) -> tuple[Candidate, Tried | None]:
        """The greedy candidate, and its run against the unit's checks (None when nothing runs
        or the request was stopped): how every single-unit strategy starts."""
        first = self.candidate(unit, 0)
        if self.verifier is None or self.cancelled:
            self.log(first, None)
            return first, None
        return first, Tried(first, self.check(unit, first))

    def stream(self, text: str) -> None:
        """Stream a piece of the greedy candidate to the sink."""
        self.emit(ev.Token(text=text))
