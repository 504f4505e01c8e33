"""The agent loop: one pipeline behind the magic, the CLI, the panel and the benchmark."""

from __future__ import annotations

import time

from ..llm import ChatModel
from ..models.catalog import LoopSettings
from .code import stub_entry_point
from .events import Event, EventSink, Request, Result, Usage
from .generate import Generator, task_messages


def _ignore(_event: Event) -> None:
    pass


class Pipeline:
    """Runs requests on one model with its loop settings, emitting events to ``sink``."""

    def __init__(self, llm: ChatModel, settings: LoopSettings, sink: EventSink | None = None) -> None:
        self.llm, self.settings = llm, settings
        self.sink = sink or _ignore

    def emit(self, kind: str, **data: object) -> None:
        self.sink(Event(kind, data))

    def run(self, request: Request) -> Result:
        """Generate code for ``request``."""
        t0 = time.perf_counter()
        task = request.task.strip()
        if not task:
            raise ValueError("empty task: say what the code should do")
        entry = request.entry_point or stub_entry_point(task)
        usage = Usage()
        self.emit("start", task=task, model=self.llm.name)
        gen = Generator(self.llm, request.max_tokens or self.settings.max_tokens, self.settings.temperature)
        messages = task_messages(task, request.context)
        self.emit("generate", candidate=0, origin="greedy")
        try:
            code = gen.one(messages, task, entry, usage,
                           on_token=lambda t: self.emit("token", text=t), cancel=request.cancel)  # fmt: skip
        except KeyboardInterrupt:
            request.cancel.set()
            raise
        result = Result(task, code, self.llm.name, None, candidates=1, usage=usage,
                        cancelled=request.cancel.is_set())  # fmt: skip
        result.seconds = time.perf_counter() - t0
        self.emit("done", summary=result.summary(), code=code, passed=None)
        return result
