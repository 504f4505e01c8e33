#!/usr/bin/env bash
# Issue 14's measurements, in order, alone on the machine (each step appends to results/).
set -u
cd "$(dirname "$0")/.."
M=qwen2.5-coder-0.5b
S=.venv/bin/smallcode
[ -s results/i14-batched.txt ] || .venv/bin/python benchmarks/batched_sampling.py --max-tokens 128 --repeats 2 > results/i14-batched.txt 2>&1
$S bench humaneval -m $M --mode loop --out results/i14-q05-loop.jsonl --resume > results/i14-q05-loop.log 2>&1
$S bench humaneval -m $M --mode vanilla --out results/i14-q05-vanilla.jsonl --resume > results/i14-q05-vanilla.log 2>&1
$S bench humaneval -m $M --mode loop --no-batch --only @benchmarks/humaneval_sample41.txt --label loop-sequential --out results/i14-q05-loop-seq41.jsonl --resume > results/i14-q05-loop-seq41.log 2>&1
$S bench humaneval -m $M --mode bestof --budget-from results/i14-q05-loop.jsonl --only @benchmarks/humaneval_sample41.txt --out results/i14-q05-bestof41.jsonl --resume > results/i14-q05-bestof41.log 2>&1
touch results/i14.done
