#!/usr/bin/env bash
# Issue 15's measurements as they were run (docs/benchmarks.md, "Model servers"), alone on the
# machine: the 41-task HumanEval sample on the 0.5B through llama-cpp-python's server and through
# smallcode serve (the in-process row is issue 14's results/i14-q05-loop41-final.jsonl), then two
# notebooks sharing one model (benchmarks/shared_model.py).
set -u
cd "$(dirname "$0")/.."
S=.venv/bin/smallcode
GGUF=$(.venv/bin/python -c "from smallcode_jupyter.models.store import resolve; print(resolve('qwen2.5-coder-0.5b', download=False).path)")
ONLY=@benchmarks/humaneval_sample41.txt

# llama-cpp-python's OpenAI-compatible server (no prefill: code from the reply's fence).
.venv/bin/python -m llama_cpp.server --model "$GGUF" --model_alias qwen2.5-coder-0.5b --host 127.0.0.1 \
    --port 8081 --n_ctx 4096 --n_threads 2 --n_threads_batch 2 > results/i15-llama-server.log 2>&1 &
SERVER=$!
until curl -sf http://127.0.0.1:8081/v1/models > /dev/null; do sleep 1; done
$S bench humaneval -m openai:http://127.0.0.1:8081/v1/qwen2.5-coder-0.5b --mode loop --only $ONLY \
    --label loop-llama-cpp-server --out results/i15-q05-server41.jsonl --resume > results/i15-q05-server41.log 2>&1
kill $SERVER; wait $SERVER

# smallcode serve (prefill and batched samples, as in-process).
SOCK=$(mktemp -d)/serve.sock
$S serve -m qwen2.5-coder-0.5b --socket "$SOCK" > results/i15-serve.log 2>&1 &
SERVE=$!
until [ -S "$SOCK" ]; do sleep 1; done
SMALLCODE_SERVE_SOCKET=$SOCK $S bench humaneval -m serve --mode loop --only $ONLY \
    --label loop-smallcode-serve --out results/i15-q05-serve41.jsonl --resume > results/i15-q05-serve41.log 2>&1
kill $SERVE; wait $SERVE

.venv/bin/python benchmarks/shared_model.py > results/i15-shared.txt 2>&1
$S bench report results/i14-q05-loop41-final.jsonl results/i15-q05-server41.jsonl results/i15-q05-serve41.jsonl
