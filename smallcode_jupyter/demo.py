"""Run a notebook headlessly (nbclient, a real kernel) and report each ``%%smallcode`` cell."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .display import RESULT_MIME


def run_demo(path: Path, timeout: float = 900) -> int:
    """Execute ``path`` and print task, produced code and timing per ``%%smallcode`` cell."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=int(timeout), kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    t0 = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as e:
        print(f"demo: a cell failed:\n{e}", file=sys.stderr)
        return 1
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.source.startswith("%%smallcode"):
            continue
        task = cell.source.splitlines()[0].removeprefix("%%smallcode").strip()
        results = [o["data"][RESULT_MIME] for o in cell.get("outputs", [])
                   if o.get("output_type") == "display_data" and RESULT_MIME in o.get("data", {})]  # fmt: skip
        print(f"\n=== %%smallcode {task}")
        if not results:
            errors = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stderr")
            print(f"(no result) {errors.strip()}")
            continue
        r = results[-1]
        print(r["code"].rstrip())
        print(f"--- {r['summary']}")
    print(f"\ndemo: {path} executed in {time.perf_counter() - t0:.1f} s")
    return 0
