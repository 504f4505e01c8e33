"""Run a candidate against its checks in the sandbox: one execution per candidate.

The candidate runs in a fresh namespace inside the task's sandbox kernel, then every check runs
in that namespace with its own time limit (SIGALRM in the kernel's main thread). The candidate's
own printing goes to a small buffer, so its output can never push the harness's verdict out of
the capped stream; the verdict comes back as one JSON line.
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..context.types import LiveState
from ..sandbox import Sandbox
from .checks import CHECK_PRELUDE, Check
from .harness import ENTRY, HARNESS_SOURCE, LOAD, MARK, parse_verdict
from .probes import outcome_text


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
    changed: dict[str, str] = field(default_factory=dict)  # user variable -> how the code changed it
    overwrites: list[str] = field(default_factory=list)  # user variables it re-creates from literals
    behaviour: list[str] = field(default_factory=list)  # one result per probe (see probes.py)

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


@dataclass
class StateCopy:
    """What the sandbox holds of the user's variables after :meth:`Verifier.load_state`."""

    copied: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)  # copied this time (the others were unchanged)
    notes: dict[str, str] = field(default_factory=dict)  # name -> why it is not in the sandbox


class Verifier:
    """Runs candidates in one task's sandbox, on copies of the user's variables if it has them."""

    def __init__(self, sandbox: Sandbox, check_timeout: float = 5.0, state: LiveState | None = None) -> None:
        self.sandbox, self.check_timeout, self.state = sandbox, check_timeout, state
        self._installed = False
        self._loaded = False  # the kernel holds this request's state
        self._forked = True  # every run so far left the kernel itself untouched

    def load_state(self) -> StateCopy:
        """Copy the request's variables into the sandbox kernel, sending only those whose
        fingerprint the kernel does not hold yet (a second request on the same data pays
        nothing). Raises OSError when the copy cannot be written (a full disk)."""
        state = self.state
        copy = StateCopy()
        if state is None:
            return copy
        keep = [*state.blobs, *state.imports, *state.reruns]
        have = self._load("", keep)
        if have is None:
            copy.notes = dict.fromkeys(keep, "the sandbox kernel did not answer")
            return copy
        held = have["have"]
        wanted = {n: b for n, b in state.blobs.items() if held.get(n) != state.fingerprints.get(n)}
        imports = {a: m for a, m in state.imports.items() if held.get(a) != "module:" + m}
        reruns = {n: src for n, src in state.reruns.items() if n not in held}
        if wanted or imports or reruns:
            payload = {
                "blobs": wanted,
                "fingerprints": {n: state.fingerprints[n] for n in wanted},
                "imports": imports,
                "reruns": reruns,
            }
            path = self.sandbox.put_file("state.pickle", pickle.dumps(payload, protocol=5))
            have = self._load(path, keep)
            if have is None:
                copy.notes = dict.fromkeys(keep, "the sandbox kernel died while loading it")
                return copy
        copy.sent = sorted(wanted)
        copy.notes = dict(have["notes"])
        copy.copied = [n for n in keep if n in have["have"] and n not in copy.notes]
        self._loaded = True
        return copy

    def _load(self, path: str, keep: list[str]) -> dict[str, dict[str, str]] | None:
        setup = "" if self._installed else HARNESS_SOURCE
        r = self.sandbox.run(
            f"{setup}\n{LOAD}({path!r}, {keep!r}, {MARK!r})", timeout=max(60.0, self.check_timeout)
        )
        if MARK not in r.stdout:
            self._installed = False
            return None
        self._installed = True
        try:
            out: dict[str, dict[str, str]] = json.loads(r.stdout.rsplit(MARK, 1)[1].splitlines()[0])
        except (ValueError, IndexError):
            return None
        return out

    def run(self, code: str, checks: Sequence[Check], probes: Sequence[Check] = ()) -> Report:
        """Execute ``code``, then each check, then each probe (whose results land in
        ``Report.behaviour``); never raises for anything the code does."""
        if self.state is not None and not self._loaded:
            self.load_state()  # the kernel was replaced since: copy the variables again
        setup = "" if self._installed else HARNESS_SOURCE
        state = "_sc_state" if self.state is not None and self._loaded else "None"
        call = (
            f"{setup}\n{ENTRY}({code!r}, {CHECK_PRELUDE!r}, {[c.code for c in [*checks, *probes]]!r}, "
            f"{self.check_timeout!r}, {MARK!r}, {state})"
        )
        budget = self.check_timeout * (len(checks) + len(probes) + 2) + 10
        r = self.sandbox.run(call, timeout=budget)
        verdict = parse_verdict(r.stdout)
        if verdict is None:
            self._installed = self._loaded = self._forked = False  # the kernel may have been replaced
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
        self._forked = self._forked and bool(verdict.get("forked"))
        changed = dict(verdict.get("changed", {}))
        load = verdict["load"]
        if load:
            failure = Failure("", f"{load['name']}: {load['value']}", load["tb"])
            return Report(
                0, len(checks), False, [failure], [False] * len(checks), verdict["output"], r.seconds, changed
            )
        failures, outcomes = [], []
        results = verdict["checks"]
        behaviour = [
            outcome_text(o["name"] if o else None, o["value"] if o else "") for o in results[len(checks) :]
        ]
        behaviour += ["!NoResult"] * (len(probes) - len(behaviour))
        for check, outcome in zip(checks, results, strict=False):
            outcomes.append(outcome is None)
            if outcome is not None:
                error = _clean(f"{outcome['name']}: {outcome['value']}")
                failures.append(Failure(check.label, error, outcome["tb"]))
        report = Report(
            sum(outcomes), len(checks), True, failures, outcomes, verdict["output"], r.seconds, changed
        )
        report.behaviour = behaviour
        return report

    def reset(self) -> None:
        """Fresh kernel for the next task, unless every candidate ran in a forked child: then the
        kernel is as it was (and keeps its copies of the user's variables for the next request)."""
        if not self._forked:
            self.sandbox.reset()
            self._installed = self._loaded = False
        self._forked = True
