"""Edge Mode memory: peak RSS of the whole process tree while the loop runs with retrieval.

``smallcode bench`` reports the peak RSS of its own process (model + loop); the sandbox kernel
is a separate process and HumanEval needs no retrieval, so the embedder is never loaded there.
This runs one ``smallcode ask`` task with retrieval over ``benchmarks/rag_project`` (MiniLM and
the usearch index loaded, a sandbox kernel started) and samples the RSS of the command and all
its descendants every 50 ms. Shared pages are counted once per process, so the sum is an upper
bound.

    .venv/bin/python benchmarks/edge_memory.py [--preset edge|auto] [--json results/edge_memory.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
TASK = "Write `quarter_of(text)` that takes a date like '15.05.2024' and returns its fiscal quarter label, using our `parse_day` and `fiscal_quarter` helpers."
TESTS = "assert quarter_of('15.05.2024') == 'FY2024-Q1'\nassert quarter_of('02.02.2025') == 'FY2024-Q4'\n"


def tree_rss(proc: psutil.Process) -> tuple[int, int, int]:
    """(sum of RSS over the tree, RSS of the command itself, number of processes)."""
    procs = [proc, *proc.children(recursive=True)]
    total = own = 0
    for p in procs:
        try:
            rss = p.memory_info().rss
        except psutil.Error:
            continue
        total += rss
        own = rss if p.pid == proc.pid else own
    return total, own, len(procs)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", choices=["edge", "auto"], default="edge")
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as ctx:
        ctx.write(TESTS)
    cmd = [str(Path(sys.executable).parent / "smallcode"), "ask", "--model", args.model, "--preset", args.preset,
           "--project", str(HERE / "rag_project"), "--context", ctx.name, TASK]  # fmt: skip
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:  # not a pipe: a full pipe would stall the command
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
        ps = psutil.Process(proc.pid)
        peak = peak_own = peak_n = 0
        while proc.poll() is None:
            total, own, n = tree_rss(ps)
            peak, peak_own, peak_n = max(peak, total), max(peak_own, own), max(peak_n, n)
            time.sleep(0.05)
        log.seek(0)
        output = log.read()
    result = {
        "preset": args.preset, "model": args.model, "task_passed": proc.returncode == 0,
        "seconds": round(time.perf_counter() - t0, 1), "peak_tree_rss_mb": round(peak / 2**20, 1),
        "peak_command_rss_mb": round(peak_own / 2**20, 1), "max_processes": peak_n,
    }  # fmt: skip
    print(json.dumps(result))
    if proc.returncode not in (0, 1):  # 1: the loop ran but its best answer fails the tests
        print(output[-2000:], file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if proc.returncode in (0, 1) else proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
