"""Code that runs inside the sandbox kernel's process, kept as real modules (linted, typed).

The kernel never imports smallcode, so nothing of it needs to be visible there:

``launcher``   the kernel's first code: applies the launcher's layers, then becomes ipykernel
               (run by path: ``python launcher.py CONFIG -f CONNECTION_FILE``).
``configure``  run once in each started kernel: plain tracebacks, the project on ``sys.path``,
               the kernel-side output cap (sent by source, see ``source_call``).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType

LAUNCHER = str(Path(__file__).with_name("launcher.py").resolve())


def source_call(module: ModuleType, function: str, *args: object) -> str:
    """Code that runs ``module.function(*args)`` in a kernel from the module's source.

    The source is executed in a namespace of its own, so none of its names (imports, helpers,
    the function itself) are left in the namespace generated code runs in, and no
    ``__future__`` import leaks into IPython's compiler flags for later cells. ``args`` are
    sent as their ``repr``: literals only.
    """
    call = f"{function}({', '.join(repr(a) for a in args)})"
    source = f"{inspect.getsource(module)}\n{call}\n"
    filename = inspect.getsourcefile(module) or module.__name__
    namespace = {"__name__": module.__name__}
    return f"exec(compile({source!r}, {filename!r}, 'exec', dont_inherit=True), {namespace!r})\n"
