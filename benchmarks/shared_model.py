"""Two notebooks, one model: wall time and memory of two simultaneous requests (issue 15).

Each "notebook" is a process that asks one task (``smallcode ask``, the same session and loop a
kernel runs). Configurations:
  inproc-1   one process, the model loaded in-process (the default); each task alone
  inproc-2   two such processes at once: two copies of the model; the machine-wide gate
             (models/gate.py) makes the second wait instead of both thrashing the cores
  serve-1    one process using ``smallcode serve`` (one shared copy of the model); each task alone
  serve-2    two processes at once through the same service
  nogate-2   (--no-gate) inproc-2 with the gate off: what happened before it (capped by --cap)
Reports each process's wall time and peak RSS (the sandbox kernels excluded: they are the same in
every configuration), and the service's RSS. Run it alone on the machine.

    .venv/bin/python benchmarks/shared_model.py [--model qwen2.5-coder-0.5b] [--no-gate]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

TASKS = (
    "write a function fib(n) that returns the n-th Fibonacci number, fib(0) == 0, fib(1) == 1, fib(10) == 55",
    "write a function count_vowels(s) that returns how many vowels (aeiou, any case) s has; "
    "count_vowels('Hello World') == 3",
)
SMALLCODE = [sys.executable, "-m", "smallcode_jupyter.cli"]


def watch(procs: list[subprocess.Popen[bytes]], cap: float) -> list[dict[str, float]]:
    """Wait for ``procs``; each one's wall time and peak RSS (its own process only)."""
    t0 = time.perf_counter()
    stats = [{"seconds": 0.0, "peak_mb": 0.0, "rc": 0.0} for _ in procs]
    live = set(range(len(procs)))
    while live:
        for i in list(live):
            p = procs[i]
            try:
                rss = psutil.Process(p.pid).memory_info().rss / 2**20
                stats[i]["peak_mb"] = max(stats[i]["peak_mb"], rss)
            except psutil.Error:
                pass
            if p.poll() is not None:
                stats[i]["seconds"] = round(time.perf_counter() - t0, 2)
                stats[i]["rc"] = p.returncode
                live.discard(i)
        if time.perf_counter() - t0 > cap:
            for i in live:
                procs[i].kill()
                stats[i].update(seconds=round(time.perf_counter() - t0, 2), rc=-9)
            break
        time.sleep(0.05)
    return stats


def ask(model: str, task: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*SMALLCODE, "ask", "-m", model, "--no-context", task],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # fmt: skip


def run(
    name: str,
    model: str,
    n: int,
    env: dict[str, str],
    cap: float,
    service: psutil.Process | None,
    first: int = 0,
) -> dict:
    """``n`` processes at once, asking tasks ``first``, ``first + 1``, ...; one row of the table."""
    procs = [ask(model, TASKS[(first + i) % len(TASKS)], env) for i in range(n)]
    stats = watch(procs, cap)
    row = {"config": name, "processes": stats}
    if service is not None:
        row["service_mb"] = round(service.memory_info().rss / 2**20, 1)
    row["total_mb"] = round(sum(s["peak_mb"] for s in stats) + row.get("service_mb", 0.0), 1)
    print(json.dumps(row), flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--no-gate", action="store_true", help="also run two in-process copies without the gate")
    ap.add_argument("--cap", type=float, default=600.0, help="seconds before a configuration is stopped")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="smallcode-shared-"))
    env = {**os.environ, "SMALLCODE_SERVE_SOCKET": str(tmp / "serve.sock"),
           "SMALLCODE_MODEL_GATE_FILE": str(tmp / "gate.lock")}  # fmt: skip
    rows = []
    for _ in range(args.repeats):
        subprocess.run(
            [*SMALLCODE, "ask", "-m", args.model, "--no-run", "--max-tokens", "8", "warm up"],
            env=env,
            capture_output=True,
            check=False,
        )  # fmt: skip  (the model file in the page cache)
        for i in range(len(TASKS)):  # each task alone: the reference for the two-at-once rows
            rows.append(run(f"inproc-1 (task {i + 1})", args.model, 1, env, args.cap, None, first=i))
        rows.append(run("inproc-2", args.model, 2, env, args.cap, None))
        if args.no_gate:
            rows.append(run("nogate-2", args.model, 2, {**env, "SMALLCODE_MODEL_GATE": "0"}, args.cap, None))
        server = subprocess.Popen([*SMALLCODE, "serve", "-m", args.model], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            while not (tmp / "serve.sock").exists():
                if server.poll() is not None:
                    raise SystemExit("smallcode serve did not start")
                time.sleep(0.2)
            service = psutil.Process(server.pid)
            for i in range(len(TASKS)):
                rows.append(run(f"serve-1 (task {i + 1})", "serve", 1, env, args.cap, service, first=i))
            rows.append(run("serve-2", "serve", 2, env, args.cap, service))
        finally:
            server.terminate()
            server.wait(30)
    print("\n| config | process wall s | peak RSS per process MB | service MB | total MB |")
    print("|---|---|---|---|---|")
    for r in rows:
        secs = " / ".join(
            f"{p['seconds']:.1f}" + ("" if p["rc"] == 0 else f" (rc {p['rc']:.0f})") for p in r["processes"]
        )
        mbs = " / ".join(f"{p['peak_mb']:.0f}" for p in r["processes"])
        print(f"| {r['config']} | {secs} | {mbs} | {r.get('service_mb', '-')} | {r['total_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
