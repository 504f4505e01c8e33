"""How a run looks in a notebook: a compact live view that updates in place, then the code.

In a kernel the view is one display updated at most a few times a second (the stages as short
lines, the tail of the code being written); in a terminal IPython it falls back to plain text.
"""

from __future__ import annotations

import html
import sys
import time
from typing import Any

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
        self, verbose: bool = False, live: bool | None = None, interval: float = 0.25, out: Any = None
    ) -> None:
        self.verbose = verbose
        self.out = out  # text stream for the non-live view (default: sys.stdout at the time)
        self.live = in_kernel() if live is None else live
        self.interval = interval
        self.lines: list[str] = []
        self.stream = ""
        self._handle: Any = None
        self._last = 0.0

    # -- events -------------------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        d = event.data
        if event.kind == "token":
            self.stream += d["text"]
            if not self.live:
                self._write(d["text"])
            self._refresh()
            return
        line = self.describe(event)
        if line:
            if not self.live and self.stream:
                self._write("\n")
            self.stream = "" if event.kind in ("generate", "repair") else self.stream
            self.lines.append(line)
            if not self.live:
                self._write(line + "\n")
            self._refresh(force=True)
        if self.verbose and event.kind in ("prompt", "run"):
            detail = d.get("text") if event.kind == "prompt" else d.get("traceback")
            if detail:
                self._write(f"--- {event.kind} ---\n{detail}\n")

    def _write(self, text: str) -> None:
        out = self.out or sys.stdout
        out.write(text)
        out.flush()

    @staticmethod
    def describe(event: Event) -> str:
        """One short line per stage event (tokens are not lines)."""
        d, k = event.data, event.kind
        if k == "start":
            return f"▶ {d['model']}: {d['task'][:80]}"
        if k == "plan":
            return f"• plan: {len(d['subtasks'])} parts: " + ", ".join(s["name"] for s in d["subtasks"])
        if k == "context":
            return f"• context: {len(d.get('sources', []))} snippets " + ", ".join(d.get("sources", [])[:4])
        if k == "checks":
            return f"• checks: {d['count']} ({d['sources']})" if d["count"] else "• checks: none found"
        if k == "generate":
            what = d.get("part", "")
            return f"• candidate {d['candidate'] + 1} ({d['origin']}){' for ' + what if what else ''}"
        if k == "run":
            mark = "✓" if d["ok"] else "✗"
            kind = "model-written checks" if d.get("weak") else "checks"
            return f"  {mark} {d['passed']}/{d['total']} {kind}" + (
                f" — {d['failure']}" if d.get("failure") else ""
            )
        if k == "repair":
            return f"• repair {d['iteration']} ({d['origin']})"
        if k == "done":
            return f"■ {d['summary']}"
        if k == "prompt":
            return ""
        if k == "error":
            return f"✗ {d['message']}"
        return ""

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
            "task": result.task, "code": result.code, "summary": result.summary(),
            "passed": result.passed, "seconds": round(result.seconds, 2),
            "prompt_tokens": result.usage.prompt_tokens, "completion_tokens": result.usage.completion_tokens,
        }  # fmt: skip
        verdict = failure_note(result)
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


def failure_note(result: Result) -> str:
    """Say plainly when nothing passed: the code shown is only the best attempt."""
    if result.passed is not False:
        return ""
    if result.tests_total:
        return (f"No candidate passed every test: this is the best one ({result.tests_passed}/"
                f"{result.tests_total}); it fails {result.failure}")  # fmt: skip
    return f"The code does not run: {result.failure}"
