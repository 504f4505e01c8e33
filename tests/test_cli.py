"""The ``smallcode`` command line."""

from __future__ import annotations

import subprocess
import sys

from smallcode_jupyter.cli import main


def test_models_list(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "qwen2.5-coder-0.5b" in out and "(default)" in out


def test_models_verify_shipped(capsys):
    assert main(["models", "verify", "qwen2.5-coder-0.5b"]) == 0
    assert "OK" in capsys.readouterr().out


def test_doctor(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "llama-cpp-python" in out and "cpu:" in out and "smollm2-135m" in out


def test_unknown_model_exit_code(capsys):
    assert main(["models", "fetch", "nope"]) == 1
    assert "unknown model" in capsys.readouterr().err


def test_ask_empty_task(capsys):
    assert main(["ask", "  "]) == 2
    assert "empty" in capsys.readouterr().err


def test_ask_code_goes_to_stdout_alone():
    out = subprocess.run(
        [sys.executable, "-m", "smallcode_jupyter.cli", "ask", "--model", "smollm2-135m", "--no-run",
         "--max-tokens", "48", "write a function add(a, b) that returns a + b"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "▶ smollm2-135m" in out.stderr  # progress on stderr
    assert "▶" not in out.stdout and "tokens" not in out.stdout
    assert out.stdout.strip()


def test_ask_reads_binary_context_without_crashing(tmp_path):
    ctx = tmp_path / "ctx.bin"
    ctx.write_bytes(b"\xff\xfe\x00 assert add(1, 2) == 3 \x80\x81")
    out = subprocess.run(
        [sys.executable, "-m", "smallcode_jupyter.cli", "ask", "--model", "smollm2-135m", "--no-run",
         "--max-tokens", "24", "--context", str(ctx), "write add(a, b)"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr


def test_huge_task_is_refused_clearly():
    out = subprocess.run(
        [sys.executable, "-m", "smallcode_jupyter.cli", "ask", "--model", "smollm2-135m", "--no-run", "-"],
        input="write " + "x " * 500_000, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 1
    assert "characters" in out.stderr and "Traceback" not in out.stderr


def test_doctor_shows_sandbox_layers(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "sandbox rlimits:" in out and "sandbox isolation:" in out


def test_preset_edge_selects_edge_settings():
    """``--preset edge`` (the documented spelling) and ``--edge`` both pick Edge Mode."""
    from smallcode_jupyter.cli import _resolve, build_parser
    from smallcode_jupyter.models.catalog import EDGE_SETTINGS

    for argv in (["bench", "humaneval", "--preset", "edge"], ["ask", "--edge", "x"], ["ask", "--preset", "edge", "x"]):
        args = build_parser().parse_args(argv)
        args.cache_dir, args.model = None, "smollm2-135m"
        assert _resolve(args).settings == EDGE_SETTINGS
    args = build_parser().parse_args(["bench", "humaneval"])
    args.cache_dir, args.model = None, "smollm2-135m"
    assert _resolve(args).settings != EDGE_SETTINGS
