"""What copying the notebook's variables into the sandbox costs per request (issue 13).

For a DataFrame of about 1 MB, 10 MB, 100 MB and one over the copy limit: the time to describe
and pickle it in the user's kernel (``snapshot``), to load it into the sandbox kernel the first
time (``first load``) and on a second request with the data unchanged (``again``: only
fingerprints travel), and what one candidate run costs with the state against without it.

    .venv/bin/python benchmarks/state_transfer.py [--repeat 5]

Run it alone on the machine (times on a loaded machine mean nothing).
"""

from __future__ import annotations

import argparse
import statistics
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd

from smallcode_jupyter.context.snapshot import snapshot
from smallcode_jupyter.loop.checks import Check
from smallcode_jupyter.loop.verify import Verifier
from smallcode_jupyter.sandbox import Sandbox

MiB = 2**20


def frame(nbytes: int) -> pd.DataFrame:
    rows = max(1, nbytes // (8 * 4))
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.integers(0, 100, rows),
            "b": rng.random(rows),
            "c": rng.integers(0, 10, rows),
            "d": rng.random(rows),
        }
    )


def fake_shell(df: pd.DataFrame) -> SimpleNamespace:
    hist = ["", "import pandas as pd", "df = load()"]
    return SimpleNamespace(
        user_ns={"df": df, "pd": pd, "In": hist},
        user_ns_hidden={},
        history_manager=SimpleNamespace(input_hist_raw=hist),
    )


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cap-mb", type=float, default=256)
    args = ap.parse_args()
    cap = int(args.cap_mb * MiB)
    sizes = [1 * MiB, 10 * MiB, 100 * MiB, int(cap * 1.2)]
    task = "add a column e = a * b to df"
    check = [Check("assert 'e' in df.columns", "user", "e")]
    print(f"{'size':>10} {'snapshot':>9} {'first load':>10} {'again':>7} {'run+state':>9} {'run':>6}  note")
    with Sandbox(timeout=60, memory_limit=4 * 2**30) as sb:
        for size in sizes:
            df = frame(size)
            real = df.memory_usage(index=True).sum()
            shell = fake_shell(df)
            snaps, firsts, agains, runs, plain = [], [], [], [], []
            note = ""
            for _ in range(args.repeat):
                t = time.perf_counter()
                state = snapshot(shell, task, max_bytes=cap)
                snaps.append(time.perf_counter() - t)
                note = "; ".join(f"{k}: {v}" for k, v in state.skipped.items())
                sb.reset()
                sb.wait_for_spare(60)
                v = Verifier(sb, 30.0, state)
                t = time.perf_counter()
                v.load_state()
                firsts.append(time.perf_counter() - t)
                w = Verifier(sb, 30.0, state)
                t = time.perf_counter()
                w.load_state()
                agains.append(time.perf_counter() - t)
                t = time.perf_counter()
                w.run("df['e'] = df['a'] * df['b']", check)
                runs.append(time.perf_counter() - t)
                u = Verifier(sb, 30.0)
                u.run("e = 1", [])
                t = time.perf_counter()
                u.run("e = 1", [])
                plain.append(time.perf_counter() - t)
            print(
                f"{real / MiB:8.1f}MB {median(snaps):8.3f}s {median(firsts):9.3f}s {median(agains):6.3f}s "
                f"{median(runs):8.3f}s {median(plain):5.3f}s  {note}"
            )


if __name__ == "__main__":
    main()
