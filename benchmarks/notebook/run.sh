#!/usr/bin/env bash
# The notebook-task runs behind docs/benchmarks.md (issue 13). Run by hand, alone on the machine:
# on 2 cores a loop run of the 0.5B takes hours (a multi-part task alone can take ~10 min), and
# llama.cpp slows down several-fold when other jobs share the cores. Every step resumes (finished
# tasks are skipped), so the script can be stopped and started again.
#
#   benchmarks/notebook/run.sh check    the team's solutions, no model (seconds): the set is sound
#   benchmarks/notebook/run.sh 0.5b     vanilla and loop on every task; the multi-part tasks without the plan
#   benchmarks/notebook/run.sh 1.5b     the same with the 1.5B
#   benchmarks/notebook/run.sh report   the table of all the runs above (results/nb.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
SC=${SMALLCODE:-.venv/bin/smallcode}
R=results
mkdir -p "$R"
bench() { "$SC" bench notebook --resume "$@"; }

case "${1:-}" in
check)
  "$SC" bench notebook --mode reference
  ;;
0.5b | 1.5b)
  M=qwen2.5-coder-$1
  T=nb-q${1//[.b]/}
  bench -m "$M" --mode vanilla --label "$1 vanilla" --out "$R/$T-vanilla.jsonl"
  bench -m "$M" --mode loop --label "$1 loop" --out "$R/$T-loop.jsonl"
  bench -m "$M" --mode loop --no-plan --multipart --label "$1 loop, no plan (multi-part)" --out "$R/$T-noplan-multi.jsonl"
  ;;
report)
  "$SC" bench report $R/nb-q*.jsonl --md $R/nb.md
  python3 - "$R"/nb-q*.summary.json <<'PY'
import json, sys

for path in sys.argv[1:]:
    s = json.load(open(path))
    m = s["multipart"]
    print(
        f"{s['label']}: {s['passed']}/{s['tasks']} = {s['pass_at_1']}%, overwrites {s['overwrites']}, "
        f"median {s['median_seconds']} s, mean {s['mean_seconds']} s; "
        f"multi-part {m['passed']}/{m['tasks']} = {m['pass_at_1']}%, overwrites {m['overwrites']}"
    )
PY
  ;;
*)
  sed -n '2,10p' "$0"; exit 2
  ;;
esac
