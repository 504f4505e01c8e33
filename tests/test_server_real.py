"""Real model servers on loopback, with the shipped Qwen2.5-Coder-0.5B behind them:
llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``) and
``smallcode serve``. Through each: the magic, ``smallcode ask`` and a 3-task bench."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import run

pytestmark = pytest.mark.model

SMALLCODE = [sys.executable, "-m", "smallcode_jupyter.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    """Start a server with its output in ``log`` (a pipe nobody reads would fill and block it)."""
    with log.open("w") as f:
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)


def _wait(ok, proc: subprocess.Popen, what: str, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-3000:]}")
        if ok():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{what} did not come up in {timeout} s")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/models", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def llama_server(qwen05, tmp_path_factory) -> Iterator[str]:
    """``python -m llama_cpp.server`` on the shipped 0.5B; yields its base URL."""
    pytest.importorskip("fastapi", reason="llama-cpp-python[server]'s packages are not installed")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(qwen05.path), "--model_alias", "qwen05"]
    proc = _start(
        [*cmd, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2"], log
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait(lambda: _answers(url), proc, "llama_cpp.server", log)
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def serve_socket(qwen05, tmp_path_factory) -> Iterator[Path]:
    """``smallcode serve`` on the shipped 0.5B, on a private socket; yields the socket."""
    sock = tmp_path_factory.mktemp("serve") / "serve.sock"
    log = sock.with_name("serve.log")
    proc = _start([*SMALLCODE, "serve", "-m", "qwen2.5-coder-0.5b", "--socket", str(sock)], log)
    try:
        _wait(sock.exists, proc, "smallcode serve", log)
        yield sock
    finally:
        _stop(proc)
    assert not sock.exists()  # removed on a clean stop


def test_the_magic_through_llama_cpp_server(shell, llama_server):
    shell.run_line_magic("config", f"SmallcodeMagics.model = 'openai:{llama_server}/qwen05'")
    run(shell, "write a function add(a, b) that returns the sum of a and b", "assert add(2, 3) == 5")
    shell.run_cell(shell.rl_next_input)
    assert shell.user_ns["add"](2, 3) == 5
    status = subprocess.run([*SMALLCODE, "doctor", "-m", f"openai:{llama_server}/qwen05"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "qwen05 on llama-cpp-python" in status.stdout and "answering" in status.stdout


def test_ask_through_llama_cpp_server(llama_server):
    out = subprocess.run(
        [
            *SMALLCODE,
            "ask",
            "-m",
            f"openai:{llama_server}",
            "--max-tokens",
            "160",
            "write a function is_even(n) that returns True when n is even",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    ns: dict = {}
    exec(out.stdout, ns)
    assert ns["is_even"](4) is True and ns["is_even"](3) is False


def test_a_three_task_bench_through_llama_cpp_server(llama_server, tmp_path):
    out = tmp_path / "bench.jsonl"
    proc = subprocess.run(
        [
            *SMALLCODE,
            "bench",
            "humaneval",
            "-m",
            f"openai:{llama_server}/qwen05",
            "--limit",
            "3",
            "--out",
            str(out),
            "--concurrency",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["task_id"] for r in records) == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert sum(r["passed"] for r in records) >= 1
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert summary["concurrency"] == 2 and "llama-cpp-python" in summary["source"]


def test_ask_and_the_magic_through_smallcode_serve(shell, serve_socket, monkeypatch):
    monkeypatch.setenv("SMALLCODE_SERVE_SOCKET", str(serve_socket))
    out = subprocess.run(
        [
            *SMALLCODE,
            "ask",
            "-m",
            "serve",
            "--max-tokens",
            "160",
            "write a function square(x) that returns x * x",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SMALLCODE_SERVE_SOCKET": str(serve_socket)},
    )
    assert out.returncode == 0, out.stderr
    ns: dict = {}
    exec(out.stdout, ns)
    assert ns["square"](7) == 49
    shell.run_line_magic("smallcode", "model serve")
    run(shell, "write a function triple(x) that returns 3 * x", "assert triple(2) == 6")
    shell.run_cell(shell.rl_next_input)
    assert shell.user_ns["triple"](5) == 15
