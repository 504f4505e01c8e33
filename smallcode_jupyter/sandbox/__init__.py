"""Run generated code in a throwaway Jupyter kernel, never the user's.

``Sandbox`` starts kernels from this interpreter, enforces a wall-clock limit per run,
survives kernel crashes, caps output, and keeps a warm spare so ``reset()`` is instant.
Each kernel runs confined (bubblewrap, cgroups, rlimits, Landlock, seccomp): docs/security.md.
"""

from __future__ import annotations

from .errors import SandboxError
from .isolation import Limits
from .result import RunResult
from .sandbox import Sandbox

__all__ = ["Limits", "RunResult", "Sandbox", "SandboxError"]
