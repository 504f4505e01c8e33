"""Run a candidate against its checks in the sandbox: one execution per candidate.

The candidate runs in a fresh namespace inside the task's sandbox kernel, then every check runs
in that namespace with its own time limit (SIGALRM in the kernel's main thread). The candidate's
own printing goes to a small buffer, so its output can never push the harness's verdict out of
the capped stream; the verdict comes back as one JSON line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..sandbox import Sandbox
from .checks import CHECK_PRELUDE, Check
from .harness import ENTRY, HARNESS_SOURCE, MARK, parse_verdict


@dataclass
class Failure:
    """Why a candidate fails: the check (if any) and the trimmed error."""

    label: str
    error: str  # "AssertionError: expected 5, got 6" style
    traceback: str = ""

    def describe(self) -> str:
        return f"{self.label}: {self.error}" if self.label else self.error


@dataclass
class Report:
    """Outcome of one candidate against its checks."""

    passed: int
    total: int
    loaded: bool  # the code itself ran without error
    failures: list[Failure] = field(default_factory=list)
    outcomes: list[bool] = field(default_factory=list)  # per check, in order
    output: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.loaded and self.passed == self.total

    @property
    def score(self) -> tuple[int, int]:
        """Sort key: loading counts, then checks passed."""
        return (int(self.loaded), self.passed)

    def first_failure(self) -> str:
        return self.failures[0].describe() if self.failures else ""


def _clean(text: str) -> str:
    return re.sub(r"\s+\n", "\n", text).strip()


class Verifier:
    """Runs candidates in one task's sandbox."""

    def __init__(self, sandbox: Sandbox, check_timeout: float = 5.0) -> None:
        self.sandbox, self.check_timeout = sandbox, check_timeout
        self._installed = False

    def run(self, code: str, checks: Sequence[Check]) -> Report:
        """Execute ``code`` and then each check; never raises for anything the code does."""
        setup = "" if self._installed else HARNESS_SOURCE
        call = (
            f"{setup}\n{ENTRY}({code!r}, {CHECK_PRELUDE!r}, {[c.code for c in checks]!r}, "
            f"{self.check_timeout!r}, {MARK!r})"
        )
        budget = self.check_timeout * (len(checks) + 2) + 5
        r = self.sandbox.run(call, timeout=budget)
        verdict = parse_verdict(r.stdout)
        if verdict is None:
            self._installed = False  # the kernel may have been replaced
            if r.timed_out:
                why = "timed out"
            elif r.died:
                why = "the sandbox kernel died"
            elif r.error_name:
                why = f"{r.error_name}: {r.error_value}"
            else:
                why = "no verdict from the harness"
            failure = Failure("", why, r.traceback)
            return Report(0, len(checks), False, [failure], [False] * len(checks), seconds=r.seconds)
        self._installed = True
        load = verdict["load"]
        if load:
            failure = Failure("", f"{load['name']}: {load['value']}", load["tb"])
            return Report(
                0, len(checks), False, [failure], [False] * len(checks), verdict["output"], r.seconds
            )
        failures, outcomes = [], []
        for check, outcome in zip(checks, verdict["checks"], strict=False):
            outcomes.append(outcome is None)
            if outcome is not None:
                error = _clean(f"{outcome['name']}: {outcome['value']}")
                failures.append(Failure(check.label, error, outcome["tb"]))
        return Report(sum(outcomes), len(checks), True, failures, outcomes, verdict["output"], r.seconds)

    def reset(self) -> None:
        """Fresh kernel for the next task (the harness is reinstalled lazily)."""
        self.sandbox.reset()
        self._installed = False
