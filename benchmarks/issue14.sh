#!/usr/bin/env bash
# Issue 14's measurements as they were run (docs/benchmarks.md, "The chooser"), alone on the machine.
# The full loop run was made at commit 3e04154 (then the greedy answer was also probed: probe_greedy);
# check it out to repeat that row. The other rows use the code as shipped.
set -u
cd "$(dirname "$0")/.."
M=qwen2.5-coder-0.5b
S=.venv/bin/smallcode
.venv/bin/python benchmarks/batched_sampling.py --max-tokens 128 --repeats 2 > results/i14-batched.txt 2>&1
$S bench humaneval -m $M --mode loop --out results/i14-q05-loop.jsonl --resume > results/i14-q05-loop.log 2>&1
$S bench humaneval -m $M --mode vanilla --only @benchmarks/humaneval_sample41.txt --out results/i14-q05-vanilla41.jsonl --resume > results/i14-q05-vanilla41.log 2>&1
$S bench humaneval -m $M --mode bestof --budget-from results/i14-q05-loop.jsonl --only @benchmarks/humaneval_sample41.txt --out results/i14-q05-bestof41.jsonl --resume > results/i14-q05-bestof41.log 2>&1
$S bench humaneval -m $M --mode loop --only @benchmarks/humaneval_sample41.txt --out results/i14-q05-loop41-final.jsonl --resume > results/i14-q05-loop41-final.log 2>&1
$S bench rechoose results/i14-q05-loop.jsonl
$S bench rechoose --no-repair results/i14-q05-loop.jsonl
.venv/bin/python benchmarks/chooser_stats.py results/i14-q05-loop.jsonl results/i14-q05-vanilla41.jsonl
