"""Sandbox latency: cold start to first result, a trivial run, and reset() with a warm spare.

WHY: the agent loop resets the sandbox between tasks and runs code many times per task;
these three numbers bound how much of a task's wall time the sandbox itself costs.

    python benchmarks/sandbox_startup.py [-n 5] [--layers bwrap,cgroup,rlimits,landlock,seccomp | none]

``--layers`` picks the isolation layers (default: every available one); ``none`` is the
unconfined kernel of the first release, for a before/after comparison (docs/security.md).
``--compare`` alternates cold starts of the unconfined, fully confined and fallback kernels
sample by sample, so that load from other processes hits all three alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smallcode_jupyter.sandbox import Sandbox


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cold_start(n: int, **kw: object) -> list[float]:
    """Construct a sandbox and get the first successful result (no spare competing for CPU)."""
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        sb = Sandbox(warm_spare=False, **kw)
        assert sb.run("1 + 1").ok
        samples.append(time.perf_counter() - start)
        sb.close()
    return samples


COMPARE = {
    "none (unconfined)": {"layers": [], "allow_unisolated": True},
    "all layers": {},
    "fallback (no bwrap)": {"layers": ["cgroup", "rlimits", "landlock", "seccomp"]},
}


def compare(n: int) -> None:
    samples: dict[str, list[float]] = {name: [] for name in COMPARE}
    for _ in range(n):
        for name, kw in COMPARE.items():
            samples[name] += cold_start(1, **kw)
    for name, values in samples.items():
        report(f"cold start, {name}", values)


def run_latency(sb: Sandbox, n: int) -> list[float]:
    sb.run("1 + 1")  # warm-up
    return [timed(lambda: sb.run("1 + 1")) for _ in range(n)]


def reset_latency(sb: Sandbox, n: int) -> tuple[list[float], list[float]]:
    """reset() once the spare is ready, and the first run in the swapped-in kernel."""
    resets, first_runs = [], []
    for _ in range(n):
        sb.wait_for_spare(60)
        time.sleep(0.3)  # let the previous kernel's background shutdown finish
        resets.append(timed(sb.reset))
        first_runs.append(timed(lambda: sb.run("1 + 1")))
    return resets, first_runs


def report(name: str, samples: list[float]) -> None:
    ms = [s * 1000 for s in samples]
    print(
        f"{name:<40} median {statistics.median(ms):8.1f} ms"
        f"   (min {min(ms):.1f}, max {max(ms):.1f}, n={len(ms)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="samples per measurement")
    parser.add_argument("--layers", default=None, help="comma-separated layers, or 'none'")
    parser.add_argument("--compare", action="store_true", help="interleaved cold starts, 3 configurations")
    args = parser.parse_args()
    n = args.n
    if args.compare:
        compare(n)
        return
    kw: dict = {}
    if args.layers:
        kw["layers"] = [] if args.layers == "none" else args.layers.split(",")
        kw["allow_unisolated"] = args.layers == "none"
    print(f"python {sys.version.split()[0]} at {sys.executable}")
    with Sandbox(**kw) as probe:
        print(f"layers: {', '.join(probe.layers) or 'none (unconfined)'}")
    report("cold start -> first result", cold_start(n, **kw))
    with Sandbox(**kw) as sb:
        sb.wait_for_spare(60)
        report("run('1 + 1')", run_latency(sb, n))
        resets, first_runs = reset_latency(sb, n)
        report("reset() with warm spare", resets)
        report("first run after reset()", first_runs)


if __name__ == "__main__":
    main()
