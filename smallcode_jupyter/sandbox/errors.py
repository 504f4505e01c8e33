"""The one exception the sandbox raises for its own failures (code errors are results, not raises)."""

from __future__ import annotations


class SandboxError(RuntimeError):
    """The sandbox cannot do its job: no kernel could be started, or it was used after close()."""
