"""Soak: 20 tasks back to back through the loop's sandbox API, looking for leaks.

Each task does what the agent loop does with one sandbox (``Verifier.run`` per candidate,
then ``reset()``), with candidates that are wrong, right, or hostile (infinite loop, 1 GB
print, crash, memory bomb, fork loop, background daemon). After every task it records this
process's RSS and open file descriptors, its live child processes, and the sandbox's
leftovers on disk (scratch and run dirs, cgroups). No model is involved.

    python benchmarks/sandbox_soak.py [--tasks 20] [--json out.json] [--layers cgroup,rlimits,landlock,seccomp]

Pass/fail bounds (stated in docs/security.md): after the first task, RSS grows < 50 MB,
open fds grow by <= 2, and there are never more than 2 kernels (current + warm spare).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smallcode_jupyter.loop.checks import Check
from smallcode_jupyter.loop.verify import Verifier
from smallcode_jupyter.sandbox import Sandbox
from smallcode_jupyter.sandbox.cgroup import CGROUP_PARENT, CGROUP_V1
from smallcode_jupyter.sandbox.isolation import Limits, MiB

CHECKS = [Check("assert inc(1) == 2", "user", "inc(1)"), Check("assert inc(5) == 6", "user", "inc(5)")]
GOOD = "def inc(x):\n    return x + 1\n"
CANDIDATES = [
    "def inc(x):\n    return x + 2\n",  # wrong
    GOOD,
    "while True:\n    pass\n",  # hangs (the harness's SIGALRM fires first)
    "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
    "while True:\n    pass\n",  # ignores everything: the kernel is replaced
    "s = 'x' * 2**20\nfor _ in range(1024):\n    print(s)\n" + GOOD,  # 1 GB of output
    "import ctypes\nctypes.string_at(0)\n",  # segfault
    "b = bytearray(64 * 2**30)\n",  # memory bomb
    "import os, time\nfor _ in range(20):\n    if os.fork() == 0:\n        time.sleep(60)\n        os._exit(0)\n"
    + GOOD,  # forked children left behind
    "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'],"
    " start_new_session=True)\n" + GOOD,  # a daemon
]


# Our kernels' scratch and run dirs go to a private temp dir, so other processes' sandboxes
# on the same machine are not counted.
PRIVATE_TMP = tempfile.mkdtemp(prefix="smallcode-soak-")
tempfile.tempdir = PRIVATE_TMP


def leftovers() -> dict[str, int]:
    mine = f"kernel-{os.getpid()}-*"
    cg = sum(len(glob.glob(str(CGROUP_V1 / c / CGROUP_PARENT / mine))) for c in ("memory", "pids"))
    return {
        "scratch_dirs": len(glob.glob(f"{PRIVATE_TMP}/smallcode-sandbox-*")),
        "run_dirs": len(glob.glob(f"{PRIVATE_TMP}/smallcode-run-*")),
        "cgroups": cg,
    }


def sample(me: psutil.Process, task: int, seconds: float) -> dict:
    kids = [p for p in me.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    tops = [p for p in me.children() if p.status() != psutil.STATUS_ZOMBIE]
    return {
        "task": task,
        "seconds": round(seconds, 2),
        "rss_mb": round(me.memory_info().rss / MiB, 1),
        "fds": me.num_fds(),
        "kernels": len(tops),
        "descendants": len(kids),
        **leftovers(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--layers", default=None, help="comma-separated layers (default: all available)")
    args = parser.parse_args()
    me = psutil.Process()
    rows = []
    limits = Limits(memory=512 * MiB, processes=128)
    start_all = time.monotonic()
    layers = args.layers.split(",") if args.layers else None
    with Sandbox(timeout=10, limits=limits, layers=layers) as sb:
        print(f"layers: {', '.join(sb.layers)}")
        verifier = Verifier(sb, check_timeout=2.0)
        for task in range(1, args.tasks + 1):
            start = time.monotonic()
            hostile = CANDIDATES[(task - 1) % len(CANDIDATES)]
            for code in (hostile, GOOD):
                verifier.run(code, CHECKS)
            assert verifier.run(GOOD, CHECKS).ok, "the sandbox stopped working"
            verifier.reset()
            sb.wait_for_spare(60)
            time.sleep(0.3)  # let the retired kernel's background shutdown finish
            rows.append(sample(me, task, time.monotonic() - start))
            r = rows[-1]
            print(
                f"task {task:2d}  {r['seconds']:5.2f} s  rss {r['rss_mb']:6.1f} MB  fds {r['fds']:3d}  "
                f"kernels {r['kernels']}  descendants {r['descendants']:2d}  scratch {r['scratch_dirs']}  "
                f"run {r['run_dirs']}  cgroups {r['cgroups']}"
            )
    time.sleep(0.5)
    after = {**leftovers(), "descendants": len(me.children(recursive=True))}
    total = time.monotonic() - start_all
    first, last = rows[0], rows[-1]
    summary = {
        "tasks": args.tasks,
        "wall_seconds": round(total, 1),
        "rss_growth_mb": round(last["rss_mb"] - first["rss_mb"], 1),
        "fd_growth": last["fds"] - first["fds"],
        "max_kernels": max(r["kernels"] for r in rows),
        "leftovers_after_close": after,
    }
    ok = (
        summary["rss_growth_mb"] < 50
        and summary["fd_growth"] <= 2
        and summary["max_kernels"] <= 2
        and after["descendants"] == 0
        and all(after[k] == 0 for k in ("scratch_dirs", "run_dirs", "cgroups"))
    )
    shutil.rmtree(PRIVATE_TMP, ignore_errors=True)
    summary["ok"] = ok
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
