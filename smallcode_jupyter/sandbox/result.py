"""What one sandbox execution produced, as plain data the agent loop can turn into feedback."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RunResult:
    """Outcome of ``Sandbox.run``.

    ``ok`` is True only when the code ran to completion without an exception, in time.
    ``restarted`` means the kernel was replaced after this run (it died, or ignored the
    interrupt): state defined by earlier runs is gone.
    """

    ok: bool
    stdout: str = ""  # stdout + stderr stream text, then text/plain of results/displays; capped
    error_name: str | None = None
    error_value: str | None = None
    traceback: str = ""  # plain text, no ANSI escapes
    timed_out: bool = False
    died: bool = False  # the kernel process exited or crashed during the run
    restarted: bool = False  # the kernel was replaced: no state survives into the next run
    cancelled: bool = False  # stopped by Sandbox.cancel()
    seconds: float = 0.0
    truncated: bool = False  # stdout hit max_output; the rest was counted and dropped
