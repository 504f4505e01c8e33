"""How a run looks in a notebook: a compact live view that updates in place, then the code.

In a kernel the view is one display updated at most a few times a second (the stages as short
lines, the tail of the code being written); in a terminal IPython it falls back to plain text.
"""

from __future__ import annotations

import html
import sys
import time
from functools import singledispatch
from typing import Any, TextIO

from .loop import events as ev
from .loop.events import Event, Result

RESULT_MIME = "application/vnd.smallcode.result+json"
_TAIL_LINES = 12


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where displays can be updated in place)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class View:
    """Consumes pipeline events and shows them."""

    def __init__(
        self,
        verbose: bool = False,
        live: bool | None = None,
        interval: float = 0.25,
        out: TextIO | None = None,
    ) -> None:
        self.verbose = verbose
        self.out = out  # text stream for the non-live view (default: sys.stdout at the time)
        self.live = in_kernel() if live is None else live
        self.interval = interval
        self.lines: list[str] = []
        self.stream = ""
        self._handle: Any = None  # IPython's DisplayHandle, once shown
        self._last = 0.0

    # -- events -------------------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        if isinstance(event, ev.Token):
            self.stream += event.text
            if not self.live:
                self._write(event.text)
            self._refresh()
            return
        line = describe(event)
        if line:
            if not self.live and self.stream:
                self._write("\n")
            self.stream = "" if isinstance(event, ev.Generate | ev.Repair) else self.stream
            self.lines.append(line)
            if not self.live:
                self._write(line + "\n")
            self._refresh(force=True)
        if self.verbose:
            detail = (
                event.text
                if isinstance(event, ev.Prompt)
                else event.traceback
                if isinstance(event, ev.Run)
                else event.description
                if isinstance(event, ev.State)
                else ""
            )
            if detail:
                self._write(f"--- {event.kind} ---\n{detail}\n")

    def _write(self, text: str) -> None:
        out = self.out or sys.stdout
        out.write(text)
        out.flush()

    # -- rendering ------------------------------------------------------------------------------
    def _html(self) -> str:
        stages = "<br>".join(html.escape(line) for line in self.lines)
        tail = "\n".join(self.stream.splitlines()[-_TAIL_LINES:])
        code = f"<pre style='margin:4px 0;opacity:.75'>{html.escape(tail)}</pre>" if tail else ""
        return f"<div class='smallcode-live' style='font-family:var(--jp-code-font-family,monospace);font-size:12px'>{stages}{code}</div>"

    def _refresh(self, force: bool = False) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        bundle = {"text/html": self._html(), "text/plain": "\n".join(self.lines)}
        from IPython.display import display

        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def finish(self, result: Result) -> None:
        """Final state: the stages without the stream, then the code highlighted."""
        self.stream = ""
        self._refresh(force=True)
        from IPython.display import Markdown, display

        if not self.live and self.lines:
            print()
        data = {
            "task": result.task,
            "code": result.code,
            "summary": result.summary(),
            "passed": result.passed,
            "seconds": round(result.seconds, 2),
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
        }
        verdict = verdict_note(result)
        if self.live:
            display(Markdown(f"```python\n{result.code}\n```"))
            if verdict:
                display(Markdown(f"**{html.escape(verdict)}**"))
            display({RESULT_MIME: data, "text/plain": result.summary()}, raw=True)
        else:
            print(result.code)
            print(result.summary())
            if verdict:
                print(verdict)


@singledispatch
def describe(event: Event) -> str:
    """One short line per stage event; kinds without a line (prompt, token) give ''."""
    return ""


@describe.register
def _start(e: ev.Start) -> str:
    return f"▶ {e.model}: {e.task[:80]}"


@describe.register
def _plan(e: ev.Plan) -> str:
    return f"• plan: {len(e.subtasks)} parts: " + ", ".join(s.name for s in e.subtasks)


@describe.register
def _context(e: ev.Context) -> str:
    return f"• context: {len(e.sources)} snippets " + ", ".join(e.sources[:4])


@describe.register
def _state(e: ev.State) -> str:
    line = f"• your variables: {', '.join(e.names) or 'none named'}"
    if e.copied:
        line += f" · copied to the sandbox: {len(e.copied)}"
    if e.skipped:
        line += " · not copied: " + "; ".join(e.skipped)
    return line


@describe.register
def _checks(e: ev.Checks) -> str:
    return f"• checks: {e.count} ({e.sources})" if e.count else "• checks: none found"


@describe.register
def _generate(e: ev.Generate) -> str:
    return f"• candidate {e.candidate + 1} ({e.origin}){' for ' + e.part if e.part else ''}"


@describe.register
def _run(e: ev.Run) -> str:
    mark = "✓" if e.ok else "✗"
    kind = "model-written checks" if e.weak else "checks"
    return f"  {mark} {e.passed}/{e.total} {kind}" + (f" — {e.failure}" if e.failure else "")


@describe.register
def _repair(e: ev.Repair) -> str:
    return f"• repair {e.iteration} ({e.origin})"


@describe.register
def _done(e: ev.Done) -> str:
    return f"■ {e.summary}"


def verdict_note(result: Result) -> str:
    """Say plainly what the code is worth when it is not a pass: the best failing attempt, or
    code that nothing stronger than the model's own tests has checked."""
    if result.overwrites:
        return (
            f"Every candidate re-created your {', '.join(result.overwrites)} from made-up data; the "
            "code is offered commented out so it cannot overwrite your data."
        )
    if result.passed is None and result.evidence:
        return (
            f"Unverified ({result.evidence}): no tests or examples were given, so nothing shows "
            "this code is right. Add asserts or examples to check it."
        )
    if result.passed is not False:
        return ""
    if result.tests_total:
        return (
            f"No candidate passed every test: this is the best one ({result.tests_passed}/"
            f"{result.tests_total}); it fails {result.failure}"
        )
    return f"The code does not run: {result.failure}"
