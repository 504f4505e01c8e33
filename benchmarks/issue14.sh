#!/usr/bin/env bash
# Issue 14's measurements as they were run (docs/benchmarks.md, "The chooser"), alone on the machine.
# The full loop run was made at commit 3e04154 (then the greedy answer was also probed: probe_greedy);
# check it out to repeat that row; the sample rows before "samples instead of repair" were made
# before commit 8d09f40 (the small class's 9-sample schedule). The last block is the shipped default.
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

# Samples instead of repair (the 41-task sample, before 8d09f40), then the shipped small-class
# schedule on all 164 tasks, and best-of at issue 14's budget (1622 tokens/task, the larger one)
# on all 164 (its 41 sample tasks above were reused with --resume).
$S bench humaneval -m $M --mode loop --max-iters 0 --candidates 9 --only @benchmarks/humaneval_sample41.txt --out results/i14-q05-c9norep41.jsonl --resume > results/i14-q05-c9norep41.log 2>&1
$S bench humaneval -m $M --mode loop --label loop-small-9x0-b4 --out results/i14-q05-small.jsonl --resume > results/i14-q05-small.log 2>&1
cp results/i14-q05-bestof41.jsonl results/i14-q05-bestof.jsonl
$S bench humaneval -m $M --mode bestof --budget 1622 --label bestof --out results/i14-q05-bestof.jsonl --resume > results/i14-q05-bestof.log 2>&1
$S bench rechoose results/i14-q05-small.jsonl
$S bench report results/i14-q05-loop.jsonl results/i14-q05-small.jsonl results/i14-q05-bestof.jsonl
