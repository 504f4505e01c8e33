"""The harness that runs one candidate and its checks inside the sandbox kernel.

``Verifier`` defines ``_sc_harness`` in a fresh kernel by sending its source
(``HARNESS_SOURCE``), then calls it once per candidate; the verdict comes back as one line of
the kernel's stdout, ``MARK`` + JSON, which ``parse_verdict`` reads. ``run_here`` runs the same
function in this process (tests and dev tools), so nothing re-implements it.

Because the function's source is all that reaches the kernel, it is self-contained:

- its imports are inside it, so defining it binds exactly one name, ``_sc_harness``, in the
  kernel's namespace (where a benchmark later runs the dataset's own tests);
- an annotation that could fail when evaluated at definition time is a string;
- this module has no ``from __future__`` import: ``compile`` and ``exec`` inherit the future
  flags of their caller, and the candidate, the prelude and the checks must compile as plain
  modules, as they do in the kernel.
"""

import contextlib
import inspect
import io
import json
from collections.abc import Sequence
from typing import TypedDict, cast

__all__ = ["ENTRY", "HARNESS_SOURCE", "MARK", "Outcome", "Verdict", "parse_verdict", "run_here"]

MARK = "\x00SMALLCODE-VERDICT\x00"
"""Starts the verdict line, so output the candidate printed cannot be mistaken for it."""


class Outcome(TypedDict):
    """An error: exception class name, message and the candidate's/check's part of the traceback."""

    name: str
    value: str
    tb: str


class Verdict(TypedDict):
    """What the harness reports for one candidate."""

    load: Outcome | None  # the error that stopped the candidate itself; None if it ran
    checks: list[Outcome | None]  # one per check, None when it passed
    output: str  # what the candidate and its checks printed (capped)


def _sc_harness(_code: str, _prelude: str, _checks: "list[str]", _limit: float, _mark: str) -> None:
    """Run ``_code`` in a fresh namespace, then each check in a copy of it; print the verdict.

    The candidate may take ``2 * _limit`` seconds and each check ``_limit`` (SIGALRM, so this
    runs in the main thread). What they print goes to a buffer capped at 2,000 characters, so
    it can never push the verdict out of the sandbox's capped stream.
    """
    import contextlib
    import io
    import json
    import signal
    import sys
    import traceback

    def _alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"check took longer than {_limit} s")

    class _Cap(io.StringIO):
        def write(self, s: str) -> int:
            return super().write(s) if self.tell() < 2000 else len(s)

    def _tb(e: BaseException) -> str:
        frames = [
            f for f in traceback.extract_tb(e.__traceback__) if f.filename in ("<candidate>", "<check>")
        ]
        lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line}' for f in frames[-4:]]
        return "\n".join([*lines, f"{type(e).__name__}: {e}"[:600]])

    def _error(e: BaseException) -> "dict[str, str]":
        return {"name": type(e).__name__, "value": str(e)[:600], "tb": _tb(e)}

    out = _Cap()
    load: dict[str, str] | None = None
    outcomes: list[dict[str, str] | None] = []
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            signal.setitimer(signal.ITIMER_REAL, _limit * 2)
            try:
                exec(compile(_code, "<candidate>", "exec"), ns)
            except BaseException as e:
                load = _error(e)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if load is None:
                exec(_prelude, ns)
                for src in _checks:
                    signal.setitimer(signal.ITIMER_REAL, _limit)
                    try:
                        exec(compile(src, "<check>", "exec"), dict(ns))
                        outcomes.append(None)
                    except BaseException as e:
                        outcomes.append(_error(e))
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, old)
    res = {"load": load, "checks": outcomes, "output": out.getvalue()[:2000]}
    sys.stdout.write(_mark + json.dumps(res) + "\n")


ENTRY = _sc_harness.__name__
"""The name ``HARNESS_SOURCE`` defines in the kernel."""

HARNESS_SOURCE = inspect.getsource(_sc_harness)
"""The definition sent to each kernel once, before the first call."""


def parse_verdict(stdout: str) -> Verdict | None:
    """The verdict in the harness's stdout; None if there is none (killed, timed out, crashed)."""
    if MARK not in stdout:
        return None
    try:
        return cast(Verdict, json.loads(stdout.rsplit(MARK, 1)[1].splitlines()[0]))
    except (ValueError, IndexError):
        return None


def run_here(code: str, prelude: str, checks: Sequence[str], limit: float = 5.0) -> Verdict:
    """Run the harness in this process (main thread only: it uses SIGALRM), unsandboxed.

    For tests and dev tools on trusted code; generated code goes through the sandbox.
    """
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        _sc_harness(code, prelude, list(checks), limit, MARK)
    verdict = parse_verdict(buf.getvalue())
    if verdict is None:  # pragma: no cover - the harness always prints one when it returns
        raise RuntimeError("the harness printed no verdict")
    return verdict
