#!/usr/bin/env bash
# Issue 15: the loop against a server that runs several requests at once (docs/benchmarks.md,
# "Several requests at once"). One llama-server with 4 slots; the same 41-task sample twice:
# the samples of a prompt one request at a time (--parallel 1), then 4 at once (its slot count).
# LLAMA_SERVER: a llama-server binary (llama.cpp's tools/server; docs/servers.md builds one).
# Run it alone on the machine.
set -eu
cd "$(dirname "$0")/.."
S=.venv/bin/smallcode
: "${LLAMA_SERVER:?set LLAMA_SERVER to a llama-server binary}"
GGUF=$(.venv/bin/python -c "from smallcode_jupyter.models.store import resolve; print(resolve('qwen2.5-coder-0.5b', download=False).path)")
ONLY=@benchmarks/humaneval_sample41.txt
MODEL=openai:http://127.0.0.1:8082/v1/qwen2.5-coder-0.5b

"$LLAMA_SERVER" -m "$GGUF" --alias qwen2.5-coder-0.5b --host 127.0.0.1 --port 8082 \
    -c 16384 -np 4 -t 2 -tb 2 > results/i15-par-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
for _ in $(seq 120); do curl -sf http://127.0.0.1:8082/health > /dev/null && break; sleep 1; done
curl -sf http://127.0.0.1:8082/health > /dev/null || { echo "llama-server did not start: results/i15-par-server.log"; exit 1; }
curl -s http://127.0.0.1:8082/props > results/i15-par-props.json
for P in 1 4; do
    $S bench humaneval -m $MODEL --parallel $P --mode loop --only $ONLY --label "loop-llama-server-parallel-$P" \
        --out results/i15-par$P.jsonl --resume > results/i15-par$P.log 2>&1
done
$S bench report results/i15-par1.jsonl results/i15-par4.jsonl
