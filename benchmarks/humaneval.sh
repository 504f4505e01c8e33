#!/usr/bin/env bash
# The HumanEval runs behind docs/benchmarks.md. Run by hand, on a quiet machine: on 2 cores the
# 0.5B runs take 20-50 min each and the 1.5B ones hours, and llama.cpp slows down several-fold
# when other jobs share the cores. Every step resumes (finished tasks are skipped), so the
# script can be stopped and started again.
#
#   benchmarks/humaneval.sh 0.5b          vanilla, loop, bestof at equal tokens, on all 164 tasks
#   benchmarks/humaneval.sh 0.5b-sample   bestof, the ablations and Edge Mode on the 1-in-4 sample
#   benchmarks/humaneval.sh 1.5b          vanilla and loop on all 164 tasks
#   benchmarks/humaneval.sh 1.5b-sample   vanilla, loop and bestof on the 1-in-4 sample (41 tasks;
#                                         bestof takes its budget from the full 1.5B loop run)
#   benchmarks/humaneval.sh 0.5b-check    vanilla and loop on the sample: the pass counts that must
#                                         not change when the code is refactored (issue 12)
#   benchmarks/humaneval.sh report        the tables and plots of docs/benchmarks.md
set -euo pipefail
cd "$(dirname "$0")/.."
SC=${SMALLCODE:-.venv/bin/smallcode}
R=results
SAMPLE=@benchmarks/humaneval_sample41.txt
mkdir -p "$R"
bench() { "$SC" bench humaneval --resume "$@"; }

case "${1:-}" in
0.5b)
  M=qwen2.5-coder-0.5b
  bench -m $M --mode vanilla --label "0.5B vanilla" --out $R/q05-vanilla.jsonl
  bench -m $M --mode loop --label "0.5B loop" --out $R/q05-loop.jsonl
  bench -m $M --mode bestof --budget-from $R/q05-loop.jsonl --label "0.5B bestof" --out $R/q05-bestof.jsonl
  ;;
0.5b-sample)
  M=qwen2.5-coder-0.5b
  bench -m $M --only $SAMPLE --mode bestof --budget-from $R/q05-loop.jsonl --label "0.5B bestof" --out $R/q05-s-bestof.jsonl
  bench -m $M --only $SAMPLE --mode loop --max-iters 0 --label "0.5B loop, no repair" --out $R/q05-s-norepair.jsonl
  bench -m $M --only $SAMPLE --mode loop --candidates 1 --label "0.5B loop, 1 candidate" --out $R/q05-s-1cand.jsonl
  bench -m $M --only $SAMPLE --mode loop --no-plan --label "0.5B loop, no plan" --out $R/q05-s-noplan.jsonl
  bench -m $M --only $SAMPLE --mode loop --preset edge --label "0.5B Edge Mode" --out $R/q05-s-edge.jsonl
  ;;
0.5b-check)
  M=qwen2.5-coder-0.5b
  C=${CHECK_DIR:-$R/check}
  mkdir -p "$C"
  bench -m $M --only $SAMPLE --mode vanilla --label "0.5B vanilla" --out "$C/q05-s-vanilla.jsonl"
  bench -m $M --only $SAMPLE --mode loop --label "0.5B loop" --out "$C/q05-s-loop.jsonl"
  ;;
1.5b)
  M=qwen2.5-coder-1.5b
  bench -m $M --mode vanilla --label "1.5B vanilla" --out $R/q15-vanilla.jsonl
  bench -m $M --mode loop --label "1.5B loop" --out $R/q15-loop.jsonl
  ;;
1.5b-sample)
  M=qwen2.5-coder-1.5b
  bench -m $M --only $SAMPLE --mode vanilla --label "1.5B vanilla" --out $R/q15-s-vanilla.jsonl
  bench -m $M --only $SAMPLE --mode loop --label "1.5B loop" --out $R/q15-s-loop.jsonl
  bench -m $M --only $SAMPLE --mode bestof --budget-from $R/q15-loop.jsonl --label "1.5B bestof" --out $R/q15-s-bestof.jsonl
  ;;
report)
  "$SC" bench report $R/q05-vanilla.jsonl $R/q05-loop.jsonl $R/q05-bestof.jsonl \
    --md $R/q05.md --png docs/images/humaneval-0.5b.png
  "$SC" bench report --only $SAMPLE $R/q05-vanilla.jsonl $R/q05-loop.jsonl $R/q05-s-*.jsonl \
    $R/q15-s-vanilla.jsonl $R/q15-s-loop.jsonl $R/q15-s-bestof.jsonl --md $R/sample.md --png docs/images/humaneval-sample.png
  "$SC" bench report $R/q15-vanilla.jsonl $R/q15-loop.jsonl --md $R/q15.md --png docs/images/humaneval-1.5b.png
  ;;
*)
  sed -n '2,14p' "$0"; exit 2
  ;;
esac
