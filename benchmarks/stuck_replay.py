"""Replay ``vote.stuck`` on a run's logged candidates: which tasks would have stopped sampling
after the first batch (the first 6 candidates: the greedy answer, the stub's continuation, a
batch of 4), whether the choice changes, and the candidate time saved.

    .venv/bin/python benchmarks/stuck_replay.py results/i14-q05-small.jsonl [more runs]

The same seeds draw the same first batch, so the choice is exact; the time saved is the logged
time of the later candidates (an estimate: a task's time is more than its candidates').
"""

from __future__ import annotations

import json
import statistics as st
import sys
from pathlib import Path

from smallcode_jupyter.bench.rechoose import attempts_of, pool
from smallcode_jupyter.loop.vote import stuck, vote

FIRST = 6


def main(paths: list[str]) -> int:
    for path in paths:
        rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
        saved, hits, changed, secs = 0.0, [], [], []
        for r in rows:
            attempts = attempts_of(r, repair=False)
            s = r["seconds"]
            if len(attempts) > FIRST:
                views, hidden = pool(r, first=FIRST, repair=False)  # each program once, as the loop
                if stuck(views):
                    chosen = vote(views)
                    now = hidden[chosen.index] if chosen else False
                    cut = sum(a["seconds"] for a in attempts[FIRST:])
                    saved, s = saved + cut, s - cut
                    hits.append(r["task_id"])
                    if now != bool(r["passed"]):
                        changed.append((r["task_id"], r["passed"], now))
            secs.append(s)
        print(f"{path}: {len(rows)} tasks; stop early: {len(hits)} {hits}; choice changed: {changed}")
        before = st.mean(r["seconds"] for r in rows)
        print(f"  candidate seconds saved {saved:.0f}; mean s/task {before:.1f} -> {st.mean(secs):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
