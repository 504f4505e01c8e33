"""Where a loop run's choices came from: tasks in doubt and why, wins by origin, cost of each path.

    .venv/bin/python benchmarks/chooser_stats.py results/i14-q05-loop.jsonl [results/i14-q05-vanilla.jsonl]

Reads the candidates a ``smallcode bench humaneval --mode loop`` run logged (issue 14): each
with its origin, visible checks, behaviour on the probes, tokens and hidden-test outcome.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from pathlib import Path


def load(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def main() -> None:
    loop = load(sys.argv[1])
    vanilla = {r["task_id"]: r for r in load(sys.argv[2])} if len(sys.argv) > 2 else {}
    n = len(loop)
    doubt = Counter()
    wins = Counter()
    secs: dict[str, list[float]] = {"certain": [], "doubt": []}
    for r in loop:
        a = r["attempts"]
        g = a[0]
        greedy_ok = g["loaded"] and g["passed"] == g["total"] and g["total"] > 0
        crashed = any(b.startswith("!") for b in g.get("behaviour") or [])
        if len(a) == 1 and r["candidates"] == 1:
            kind = "certain"
        elif not g["total"]:
            kind = "doubt: no visible checks"
        elif not greedy_ok:
            kind = "doubt: greedy fails a visible check"
        elif crashed:
            kind = "doubt: greedy raises on a model input"
        else:
            kind = "other"
        doubt[kind] += 1
        secs["certain" if kind == "certain" else "doubt"].append(r["seconds"])
        chosen = next((x for x in a if x["code"] == r["code"]), None)
        if r["passed"] and not g["hidden"] and chosen is not None:
            wins[chosen["origin"]] += 1
        if r["passed"] and not g["hidden"] and chosen is None:
            wins["?"] += 1
    print(
        f"tasks {n}; loop passes {sum(r['passed'] for r in loop)}; greedy candidate passes "
        f"{sum(r['attempts'][0]['hidden'] for r in loop)}"
    )
    for k, v in doubt.most_common():
        print(f"  {k}: {v}")
    for k, v in secs.items():
        if v:
            print(
                f"  seconds, {k}: median {statistics.median(v):.1f} mean {statistics.fmean(v):.1f} (n={len(v)})"
            )
    print("wins over the greedy candidate, by the chosen one's origin:", dict(wins))
    lost = [r["task_id"] for r in loop if r["attempts"][0]["hidden"] and not r["passed"]]
    print("greedy right, loop wrong:", lost)
    oracle_miss = [r["task_id"] for r in loop if any(a["hidden"] for a in r["attempts"]) and not r["passed"]]
    print("a logged candidate was right but not chosen:", oracle_miss)
    if vanilla:
        common = [r for r in loop if r["task_id"] in vanilla]
        fp = sum(r["passed"] and not vanilla[r["task_id"]]["passed"] for r in common)
        pf = sum(vanilla[r["task_id"]]["passed"] and not r["passed"] for r in common)
        same = sum(vanilla[r["task_id"]]["code"].strip() == r["attempts"][0]["code"].strip() for r in common)
        print(
            f"vs vanilla on {len(common)}: fail->pass {fp}, pass->fail {pf}; greedy code identical to vanilla's on {same}"
        )
        vs = [vanilla[r["task_id"]]["seconds"] for r in common]
        ls = [r["seconds"] for r in common]
        print(
            f"  median {statistics.median(ls):.1f} / {statistics.median(vs):.1f} = {statistics.median(ls) / statistics.median(vs):.2f}x; "
            f"mean {statistics.fmean(ls):.1f} / {statistics.fmean(vs):.1f} = {statistics.fmean(ls) / statistics.fmean(vs):.2f}x"
        )


if __name__ == "__main__":
    main()
