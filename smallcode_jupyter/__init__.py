"""smallcode: small local code models that write working code in Jupyter.

Loading the extension only registers the magics; models, llama.cpp, torch and the embedder load
on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loop.events import Result

__version__ = "0.1.0"


def last_result() -> Result | None:
    """The result of the last ``%%smallcode`` run in this kernel (None before the first)."""
    from .magics import last_result as _last

    return _last()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the prebuilt JupyterLab side panel lives in this package (for development installs)."""
    return [{"src": "labextension", "dest": "smallcode-jupyter"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext smallcode``: create the kernel's session, register ``%%smallcode`` /
    ``%smallcode`` on it and, in a kernel, the ``smallcode`` comm target of the JupyterLab side
    panel; both front doors share that one session (model, warm sandbox, run lock)."""
    from . import panel
    from .magics import SmallcodeMagics
    from .session import Session

    session = Session(shell=ipython)
    magics = SmallcodeMagics(ipython, session=session)
    ipython.register_magics(magics)
    if _allow_empty_body not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(_allow_empty_body)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    panel.register(ipython, session)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext smallcode``: remove the panel's comm target and the magics, close the
    session (its sandbox kernels) and free the model."""
    from . import panel
    from .magics import SmallcodeMagics
    from .models import llm

    panel.unregister(ipython)  # stops a running panel task first
    if _allow_empty_body in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(_allow_empty_body)
    registry = ipython.magics_manager.registry
    magics = registry.pop("SmallcodeMagics", None)
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("smallcode", None)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, SmallcodeMagics)]
    if magics is not None:
        magics.close()
    llm.unload_all()


def _allow_empty_body(lines: list[str]) -> list[str]:
    """Let a one-line ``%%smallcode TASK`` cell run: IPython refuses cell magics with no body,
    but for smallcode the body (context) is optional."""
    if len(lines) == 1 and lines[0].lstrip().startswith("%%smallcode"):
        return [lines[0].rstrip("\n") + "\n", "\n"]
    return lines
