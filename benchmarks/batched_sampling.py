"""N samples of one prompt: N sequential ``chat`` calls against one ``chat_batch(n=N)``.

    .venv/bin/python benchmarks/batched_sampling.py --model qwen2.5-coder-0.5b --repeats 3

Why: issue 14 item 5 keeps batched sampling only if it saves wall time. Decoding several
sequences in one llama.cpp batch reads the weights once per step for all of them, so the
aggregate tokens/s should rise (about 1.5x for 4 sequences on 2 cores, measured outside the
project); this measures it through the project's own code, on a HumanEval-style stub prompt built
exactly as the generator stage builds it (system prompt, code fence prefill, fence stops).

Both sides pay the prompt once per measurement: the high-level KV cache is cleared before each
sequential run (its later calls reuse the cached prompt, as the loop's do), and the batch
evaluates the prompt once in its own context. Samples differ between the two sides (different
random streams), so lengths differ: compare aggregate completion tokens/s, not seconds alone.
Run it alone on the machine: another busy process on one of 2 cores ruins llama.cpp's speed.
"""

from __future__ import annotations

import argparse
import json
import time

from smallcode_jupyter.loop import generate_prompts as P
from smallcode_jupyter.loop.generate import task_messages
from smallcode_jupyter.models import llm as llm_mod
from smallcode_jupyter.models import resolve

STUB = '''from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--n", type=int, nargs="+", default=[2, 4], help="samples per prompt")
    ap.add_argument("--repeats", type=int, default=1, help="measurements per N (different seeds)")
    args = ap.parse_args()

    model = llm_mod.load(resolve(args.model), n_threads=args.threads or None)
    messages = task_messages(STUB)
    kw = {"prefill": P.FENCE, "max_tokens": args.max_tokens, "temperature": args.temperature, "stop": P.STOP}
    model.chat(messages, max_tokens=8)  # warm-up: page the weights in
    rows = []
    for n in args.n:
        for rep in range(args.repeats):
            seeds = [1000 * rep + i for i in range(n)]
            model._llama.reset()  # the sequential side pays the prompt once, like the batch
            t0 = time.perf_counter()
            seq = [model.chat(messages, seed=s, **kw) for s in seeds]
            seq_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            bat = model.chat_batch(messages, n=n, seeds=seeds, **kw)
            bat_s = time.perf_counter() - t0
            seq_tok = sum(c.completion_tokens for c in seq)
            bat_tok = sum(c.completion_tokens for c in bat)
            rows.append({
                "n": n, "repeat": rep,
                "sequential_s": round(seq_s, 2), "sequential_tokens": seq_tok,
                "sequential_tok_s": round(seq_tok / seq_s, 1),
                "batch_s": round(bat_s, 2), "batch_tokens": bat_tok, "batch_tok_s": round(bat_tok / bat_s, 1),
                "batch_first_token_s": round(bat[0].first_token_seconds or 0.0, 2),
                "speedup_tok_s": round((bat_tok / bat_s) / (seq_tok / seq_s), 2),
            })  # fmt: skip

    print(f"{model.name}, {model.n_threads} threads, max_tokens {args.max_tokens}, T={args.temperature}")
    print(
        f"{'N':>3} {'rep':>3} | {'seq s':>7} {'tok':>5} {'tok/s':>6} | {'batch s':>7} {'tok':>5} {'tok/s':>6} | {'x':>5}"
    )
    for r in rows:
        print(f"{r['n']:>3} {r['repeat']:>3} | {r['sequential_s']:>7} {r['sequential_tokens']:>5} "
              f"{r['sequential_tok_s']:>6} | {r['batch_s']:>7} {r['batch_tokens']:>5} {r['batch_tok_s']:>6} | "
              f"{r['speedup_tok_s']:>5}")  # fmt: skip
    print(json.dumps({"model": model.name, "threads": model.n_threads, "max_tokens": args.max_tokens,
                      "temperature": args.temperature, "rows": rows}))  # fmt: skip


if __name__ == "__main__":
    main()
