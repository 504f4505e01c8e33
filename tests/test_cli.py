"""The ``smallcode`` command line."""

from __future__ import annotations

import argparse
import subprocess
import sys

import nbformat
import pytest

from smallcode_jupyter import __version__
from smallcode_jupyter.cli import build_parser, main
from smallcode_jupyter.cli.demo import run_demo
from smallcode_jupyter.cli.options import request_options, session_for
from smallcode_jupyter.loop.settings import EDGE_SETTINGS
from smallcode_jupyter.session import Session, SessionBusy

ASK = [sys.executable, "-m", "smallcode_jupyter.cli", "ask", "--model", "smollm2-135m", "--no-run"]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every (nested) subcommand parser by its full name, e.g. ``bench humaneval``."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in subcommands(sub).items()})
    return found


def test_models_list(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "qwen2.5-coder-0.5b" in out and "(default)" in out
    row = next(line for line in out.splitlines() if line.startswith("qwen2.5-coder-0.5b"))
    assert "5/9" in row and "2/0" in row  # the voted schedule of a function with examples


def test_models_verify_shipped(capsys):
    assert main(["models", "verify", "qwen2.5-coder-0.5b"]) == 0
    assert "OK" in capsys.readouterr().out


def test_doctor(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "llama-cpp-python" in out and "cpu:" in out and "smollm2-135m" in out


def test_doctor_shows_sandbox_layers(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "sandbox rlimits:" in out and "sandbox isolation:" in out


def test_unknown_model_exit_code(capsys):
    assert main(["models", "fetch", "nope"]) == 1
    assert "unknown model" in capsys.readouterr().err


def test_ask_empty_task(capsys):
    assert main(["ask", "  "]) == 2
    assert "empty" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"smallcode {__version__}"


def test_every_option_has_help():
    parser = build_parser()
    missing = [
        f"{name or 'smallcode'}: {action.option_strings or action.dest}"
        for name, p in [("", parser), *subcommands(parser).items()]
        for action in p._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert not missing, missing


def test_help_lists_every_command_and_promises_nothing_later(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("models", "doctor", "ask", "demo", "index", "search", "bench"):
        assert f"    {command} " in out
    assert "later" not in out


def test_ask_and_bench_share_the_task_options():
    tail = [
        "--max-tokens",
        "64",
        "--max-iters",
        "1",
        "--candidates",
        "2",
        "--timeout",
        "3",
        "--no-run",
        "--no-plan",
        "--no-context",
        "--no-vote",
        "--edge",
    ]
    ask = build_parser().parse_args(["ask", *tail, "write f"])
    bench = build_parser().parse_args(["bench", "humaneval", *tail])
    want = {
        "max_tokens": 64,
        "max_iters": 1,
        "candidates": 2,
        "timeout": 3.0,
        "run": False,
        "plan": False,
        "use_context": False,
        "vote": False,
        "batch": None,
    }
    assert request_options(ask) == request_options(bench) == want
    assert ask.preset == bench.preset == "edge"


def test_preset_edge_selects_edge_settings():
    """``--preset edge`` (the documented spelling) and ``--edge`` both pick Edge Mode."""
    for argv in (
        ["bench", "humaneval", "--preset", "edge"],
        ["ask", "--edge", "x"],
        ["ask", "--preset", "edge", "x"],
    ):
        args = build_parser().parse_args([*argv, "--model", "smollm2-135m"])
        assert session_for(args).settings() == EDGE_SETTINGS
    args = build_parser().parse_args(["bench", "humaneval", "--model", "smollm2-135m"])
    assert session_for(args).settings() != EDGE_SETTINGS


def test_ask_without_isolation_says_what_to_do(capsys, monkeypatch):
    """No isolation layer: one clear message naming the CLI's remedies, no traceback."""
    monkeypatch.setenv("SMALLCODE_SANDBOX_LAYERS", "rlimits")
    monkeypatch.delenv("SMALLCODE_ALLOW_UNISOLATED", raising=False)
    assert main(["ask", "--model", "smollm2-135m", "write add(a, b)"]) == 1
    err = capsys.readouterr().err
    assert "no isolation layer" in err and "--allow-unisolated" in err and "--no-run" in err
    assert "Traceback" not in err


def test_ask_without_isolation_does_not_load_the_model(monkeypatch):
    monkeypatch.setenv("SMALLCODE_SANDBOX_LAYERS", "rlimits")
    monkeypatch.delenv("SMALLCODE_ALLOW_UNISOLATED", raising=False)
    monkeypatch.setattr(Session, "load", lambda *a, **k: pytest.fail("loaded a model without a sandbox"))
    assert main(["ask", "--model", "smollm2-135m", "write add(a, b)"]) == 1


def test_allow_unisolated_is_passed_on_with_a_warning(capsys):
    args = build_parser().parse_args(["ask", "--allow-unisolated", "x"])
    assert session_for(args).config.allow_unisolated
    assert "warning: --allow-unisolated" in capsys.readouterr().err
    args = build_parser().parse_args(["ask", "x"])
    assert not session_for(args).config.allow_unisolated
    assert capsys.readouterr().err == ""


def test_a_busy_session_is_a_clear_message(capsys, monkeypatch):
    def busy(*_args, **_kw):
        raise SessionBusy("another smallcode task is running in this kernel")

    monkeypatch.setattr(Session, "run", busy)
    assert main(["ask", "--model", "smollm2-135m", "--no-run", "write add(a, b)"]) == 1
    err = capsys.readouterr().err
    assert "another smallcode task is running" in err and "Traceback" not in err


def test_demo_kernel_does_not_warn_about_tcp(tmp_path, capfd):
    """The demo's kernel talks over Unix sockets: no ``IPKernelApp`` warning heads the output."""
    path = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")]), path)
    assert run_demo(path, timeout=120) == 0
    out, err = capfd.readouterr()
    assert "executed in" in out
    assert "without encryption" not in err and "IPKernelApp" not in err


@pytest.mark.model
def test_ask_code_goes_to_stdout_alone():
    out = subprocess.run(
        [*ASK, "--max-tokens", "48", "write a function add(a, b) that returns a + b"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "▶ smollm2-135m" in out.stderr  # progress on stderr
    assert "▶" not in out.stdout and "tokens" not in out.stdout
    assert out.stdout.strip()


@pytest.mark.model
def test_ask_reads_binary_context_without_crashing(tmp_path):
    ctx = tmp_path / "ctx.bin"
    ctx.write_bytes(b"\xff\xfe\x00 assert add(1, 2) == 3 \x80\x81")
    out = subprocess.run(
        [*ASK, "--max-tokens", "24", "--context", str(ctx), "write add(a, b)"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.model
def test_huge_task_is_refused_clearly():
    out = subprocess.run(
        [*ASK, "-"], input="write " + "x " * 500_000, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 1
    assert "characters" in out.stderr and "Traceback" not in out.stderr
