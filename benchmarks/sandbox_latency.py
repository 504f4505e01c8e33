"""Sandbox reaction times: how long until a hung, dying or stopped run comes back.

WHY here and not in the tests: the tests assert what happens (timed out, restarted, died,
cancelled, capped); how fast it happens depends on the machine's load, so it is measured here.
These are the timings docs/security.md quotes for the hostile cases.

    python benchmarks/sandbox_latency.py [-n 3] [--layers bwrap,cgroup,rlimits,landlock,seccomp | none]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smallcode_jupyter.sandbox import RunResult, Sandbox


def after_timeout(sb: Sandbox) -> float:
    """Seconds past a 2 s timeout until an infinite loop's run returns (interrupt honoured)."""
    r = sb.run("while True: pass", timeout=2)
    assert r.timed_out and not r.restarted, r
    return r.seconds - 2


def after_timeout_sigint_ignored(sb: Sandbox) -> float:
    """Seconds past a 1 s timeout until a loop ignoring SIGINT is replaced (grace included)."""
    code = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass"
    r = sb.run(code, timeout=1)
    assert r.timed_out and r.restarted, r
    return r.seconds - 1


def _until(check: Callable[[RunResult], bool], code: str) -> Callable[[Sandbox], float]:
    def measure(sb: Sandbox) -> float:
        r = sb.run(code, timeout=30)
        assert check(r), r
        sb.run("1")  # the replacement kernel, outside the measurement
        return r.seconds

    return measure


def cancel_to_return(sb: Sandbox) -> float:
    """Seconds from ``cancel()`` (another thread) until the run returns."""
    stamp: list[float] = []

    def cancel() -> None:
        stamp.append(time.monotonic())
        sb.cancel()

    threading.Timer(0.5, cancel).start()
    r = sb.run("import time\ntime.sleep(30)", timeout=20)
    assert r.cancelled, r
    return time.monotonic() - stamp[0]


MEASUREMENTS: dict[str, Callable[[Sandbox], float]] = {
    "infinite loop: past the 2 s timeout": after_timeout,
    "SIGINT ignored: past the 1 s timeout": after_timeout_sigint_ignored,
    "os._exit(1) noticed": _until(lambda r: r.died, "import os\nos._exit(1)"),
    "segfault noticed": _until(lambda r: r.died, "import ctypes\nctypes.string_at(0)"),
    "input() fails": _until(lambda r: not r.ok and not r.timed_out, "input('name? ')"),
    "sys.stdin.read() returns": _until(lambda r: not r.timed_out, "import sys\nsys.stdin.read()"),
    "cancel() to return": cancel_to_return,
    "1 GB print, capped": _until(
        lambda r: r.truncated, "s = 'x' * 2**20\nfor _ in range(1024):\n    print(s)"
    ),
    "stepwise allocation stopped": _until(
        lambda r: r.error_name == "MemoryError" or r.died,
        "chunks = []\nwhile True:\n    chunks.append(bytearray(32 * 2**20))",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=3, help="samples per measurement")
    parser.add_argument("--layers", default=None, help="comma-separated layers, or 'none'")
    args = parser.parse_args()
    layers = None if not args.layers else [] if args.layers == "none" else args.layers.split(",")
    with Sandbox(timeout=10, layers=layers, allow_unisolated=layers == []) as sb:
        print(f"python {sys.version.split()[0]}; layers: {', '.join(sb.layers) or 'none (unconfined)'}")
        for note in sb.notes:
            print(note)
        for name, measure in MEASUREMENTS.items():
            ms = [measure(sb) * 1000 for _ in range(args.n)]
            print(
                f"{name:<40} median {statistics.median(ms):8.1f} ms   (min {min(ms):.1f}, max {max(ms):.1f})"
            )


if __name__ == "__main__":
    main()
