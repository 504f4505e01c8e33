"""``smallcode demo [NOTEBOOK]``: run a notebook headlessly (nbclient, a real kernel) and print
each ``%%smallcode`` cell's task, the code it produced and its summary."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from traitlets.config import Config

from ..display import RESULT_MIME

if TYPE_CHECKING:
    from .options import Subparsers


def add_parser(sub: Subparsers) -> None:
    """Register ``smallcode demo``."""
    d = sub.add_parser(
        "demo",
        help="run a notebook headlessly and print each %%%%smallcode cell",
        description="Execute a notebook in a fresh kernel and print the task, the code and the "
        "summary of each %%smallcode cell.",
    )
    d.add_argument(
        "notebook",
        nargs="?",
        default="examples/quickstart.ipynb",
        help="the notebook to run (default: %(default)s)",
    )
    d.add_argument(
        "--timeout",
        type=float,
        default=900,
        metavar="S",
        help="seconds allowed per cell (default: %(default)s)",
    )
    d.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(Path(args.notebook), timeout=args.timeout)


def kernel_config(socket_dir: str) -> Config:
    """Kernel over Unix sockets in ``socket_dir`` (private to this user) rather than TCP on
    localhost: nothing to eavesdrop on, so ipykernel has no reason to head the output with its
    warning about unencrypted TCP. The path is absolute because the kernel runs in the
    notebook's folder. Windows has no Unix sockets: TCP there."""
    if os.name != "posix":
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(socket_dir, "kernel")}})


def run_demo(path: Path, timeout: float = 900) -> int:
    """Execute ``path`` and print task, produced code and timing per ``%%smallcode`` cell."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smallcode-demo-") as sockets:
        client = NotebookClient(
            nb,
            timeout=int(timeout),
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
            config=kernel_config(sockets),
        )
        try:
            client.execute()
        except CellExecutionError as e:
            print(f"demo: a cell failed:\n{e}", file=sys.stderr)
            return 1
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.source.startswith("%%smallcode"):
            continue
        task = cell.source.splitlines()[0].removeprefix("%%smallcode").strip()
        outputs = cell.get("outputs", [])
        results = [
            o["data"][RESULT_MIME]
            for o in outputs
            if o.get("output_type") == "display_data" and RESULT_MIME in o.get("data", {})
        ]
        print(f"\n=== %%smallcode {task}")
        if not results:
            errors = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
            print(f"(no result) {errors.strip()}")
            continue
        r = results[-1]
        print(r["code"].rstrip())
        print(f"--- {r['summary']}")
    print(f"\ndemo: {path} executed in {time.perf_counter() - t0:.1f} s")
    return 0
