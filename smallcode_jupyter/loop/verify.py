"""Run a candidate against its checks in the sandbox: one execution per candidate.

The candidate runs in a fresh namespace inside the task's sandbox kernel, then every check runs
in that namespace with its own time limit (SIGALRM in the kernel's main thread). The candidate's
own printing goes to a small buffer, so its output can never push the harness's verdict out of
the capped stream; the verdict comes back as one JSON line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..sandbox import Sandbox
from .checks import CHECK_PRELUDE, Check

_MARK = "\x00SMALLCODE-VERDICT\x00"

_HARNESS = """\
def _sc_harness(_code, _prelude, _checks, _limit, _mark):
    import contextlib, io, json, signal, sys, traceback
    def _alarm(signum, frame):
        raise TimeoutError(f"check took longer than {_limit} s")
    class _Cap(io.StringIO):
        def write(self, s):
            return super().write(s) if self.tell() < 2000 else len(s)
    def _tb(e):
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename in ("<candidate>", "<check>")]
        lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}\\n    {f.line}' for f in frames[-4:]]
        return "\\n".join(lines + [f"{type(e).__name__}: {e}"[:600]])
    out, res = _Cap(), {"load": None, "checks": []}
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            signal.setitimer(signal.ITIMER_REAL, _limit * 2)
            try:
                exec(compile(_code, "<candidate>", "exec"), ns)
            except BaseException as e:
                res["load"] = {"name": type(e).__name__, "value": str(e)[:600], "tb": _tb(e)}
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if res["load"] is None:
                exec(_prelude, ns)
                for src in _checks:
                    signal.setitimer(signal.ITIMER_REAL, _limit)
                    try:
                        exec(compile(src, "<check>", "exec"), dict(ns))
                        res["checks"].append(None)
                    except BaseException as e:
                        res["checks"].append({"name": type(e).__name__, "value": str(e)[:600], "tb": _tb(e)})
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, old)
    res["output"] = out.getvalue()[:2000]
    sys.stdout.write(_mark + json.dumps(res) + "\\n")
"""


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
        setup = "" if self._installed else _HARNESS
        call = (
            f"{setup}\n_sc_harness({code!r}, {CHECK_PRELUDE!r}, {[c.code for c in checks]!r}, "
            f"{self.check_timeout!r}, {_MARK!r})"
        )
        budget = self.check_timeout * (len(checks) + 2) + 5
        r = self.sandbox.run(call, timeout=budget)
        verdict = None
        if _MARK in r.stdout:
            try:
                verdict = json.loads(r.stdout.rsplit(_MARK, 1)[1].splitlines()[0])
            except (ValueError, IndexError):
                verdict = None
        if verdict is None:
            self._installed = False  # the kernel may have been replaced
            why = (
                "timed out" if r.timed_out else "the sandbox kernel died" if r.died else
                f"{r.error_name}: {r.error_value}" if r.error_name else "no verdict from the harness"
            )  # fmt: skip
            return Report(0, len(checks), False, [Failure("", why, r.traceback)], [False] * len(checks),
                          seconds=r.seconds)  # fmt: skip
        self._installed = True
        if verdict["load"]:
            e = verdict["load"]
            return Report(0, len(checks), False, [Failure("", f"{e['name']}: {e['value']}", e["tb"])],
                          [False] * len(checks), verdict["output"], r.seconds)  # fmt: skip
        failures, outcomes = [], []
        for check, outcome in zip(checks, verdict["checks"], strict=False):
            outcomes.append(outcome is None)
            if outcome is not None:
                failures.append(Failure(check.label, _clean(f"{outcome['name']}: {outcome['value']}"), outcome["tb"]))
        return Report(sum(outcomes), len(checks), True, failures, outcomes, verdict["output"], r.seconds)

    def reset(self) -> None:
        """Fresh kernel for the next task (the harness is reinstalled lazily)."""
        self.sandbox.reset()
        self._installed = False
