"""First-token latency and generation speed of a model on this machine.

    .venv/bin/python benchmarks/llm_speed.py --model qwen2.5-coder-0.5b --runs 5

Reports load time, and medians over runs of first-token latency (prompt processing) and
tokens/s (generation), with the KV cache cleared between runs so every run pays the prompt.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

from smallcode_jupyter.models import llm as llm_mod
from smallcode_jupyter.models import resolve

PROMPT = (
    "Write a Python function merge_intervals(intervals) that merges overlapping intervals given as a list "
    "of [start, end] pairs and returns them sorted."
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--max-tokens", type=int, default=128)
    args = ap.parse_args()
    t0 = time.perf_counter()
    resolved = resolve(args.model)
    resolve_s = time.perf_counter() - t0
    model = llm_mod.load(resolved, n_threads=args.threads or None)
    first, speed, toks = [], [], []
    for i in range(args.runs):
        model._llama.reset()
        out = model.chat([{"role": "user", "content": PROMPT + f" (run {i})"}], max_tokens=args.max_tokens)
        first.append(out.first_token_seconds)
        speed.append(out.tokens_per_second)
        toks.append(out.completion_tokens)
    print(json.dumps({
        "model": resolved.name, "threads": model.n_threads, "resolve_s": round(resolve_s, 2),
        "load_s": round(model.load_seconds, 2), "runs": args.runs,
        "prompt_tokens": out.prompt_tokens, "completion_tokens_median": statistics.median(toks),
        "first_token_s_median": round(statistics.median(first), 3),
        "tokens_per_s_median": round(statistics.median(speed), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
