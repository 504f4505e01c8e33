"""What goes into the loop, what comes out, and the events it emits on the way.

The magic, the CLI, the side panel and the benchmark all consume the same events, so each stage
reports once and every front end shows it its own way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_INPUT_CHARS = 64_000  # far beyond any small model's window; larger input is a mistake


class TaskError(ValueError):
    """The request itself is unusable (empty, or far too large); the message says why."""


@dataclass
class Request:
    """One task for the loop: the user's words plus what they gave with them."""

    task: str
    context: str = ""  # cell body / --context file: examples, tests, constraints
    entry_point: str | None = None  # the function under test, when known
    max_iters: int | None = None  # None: the model's preset decides
    candidates: int | None = None
    max_tokens: int | None = None
    run: bool = True  # run candidates in the sandbox (False: generate only)
    plan: bool = True  # allow decomposition into sub-tasks
    use_context: bool = True  # retrieve context (notebook, project, corpora)
    timeout: float = 10.0  # seconds per sandbox execution
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)


@dataclass
class Event:
    """A step of the loop: ``kind`` is one of the names below, ``data`` is JSON-serialisable."""

    kind: str  # start, plan, context, generate, token, run, repair, done, error
    data: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[Event], None]


@dataclass
class Usage:
    """Accumulated cost of the LLM calls of one request."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_seconds: float = 0.0

    def add(self, completion: Any) -> None:
        self.calls += 1
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        self.llm_seconds += completion.seconds

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Result:
    """The loop's answer: the best code found, and how it was found."""

    task: str
    code: str
    model: str
    passed: bool | None  # None: nothing was run (no checks or --no-run)
    tests_passed: int = 0
    tests_total: int = 0
    iterations: int = 0  # repair rounds
    candidates: int = 0  # candidates generated in all
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    failure: str = ""  # the best candidate's remaining failure, if any
    cancelled: bool = False
    subtasks: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # file:line of the context used

    def summary(self) -> str:
        """The one-line summary shown under the result."""
        if self.passed is None:
            tests = "not run"
        else:
            tests = f"tests {self.tests_passed}/{self.tests_total}" + ("" if self.passed else " FAILED")
        parts = [
            self.model,
            tests,
            f"{self.candidates} candidate{'s' * (self.candidates != 1)}",
            f"{self.iterations} repair{'s' * (self.iterations != 1)}",
            f"{self.usage.prompt_tokens}+{self.usage.completion_tokens} tokens",
            f"{self.seconds:.1f} s",
        ]
        if self.cancelled:
            parts.append("stopped")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
