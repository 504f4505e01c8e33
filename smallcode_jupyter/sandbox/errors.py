"""The exceptions the sandbox raises for its own failures (code errors are results, not raises)."""

from __future__ import annotations


class SandboxError(RuntimeError):
    """The sandbox cannot do its job: no kernel could be started, or it was used after close()."""


class LayerError(SandboxError):
    """One isolation layer could not be applied to a starting kernel.

    ``Sandbox`` catches it, drops the layer with a note and starts again, unless no isolation
    would remain; then this error, which names the layer and the real cause, reaches the caller.
    """

    def __init__(self, layer: str, reason: str) -> None:
        super().__init__(f"the sandbox's {layer} layer failed at kernel start: {reason}")
        self.layer = layer
        self.reason = reason
