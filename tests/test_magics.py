"""The magics on a real InteractiveShell with a scripted model (no llama.cpp involved)."""

from __future__ import annotations

import _thread
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from smallcode_jupyter.magics import SmallcodeMagics, split_options
from smallcode_jupyter.models import resolve

from .conftest import FakeLLM, run


def script_model(monkeypatch, session, fake, resolved):
    """Play the session's model with ``fake``; loop settings stay those of ``resolved``. Returns
    the specs the session was asked to load (None: its own model)."""
    loads: list[str | None] = []

    def load(spec=None, say=None):
        loads.append(spec)
        return fake

    monkeypatch.setattr(session, "resolve", lambda spec=None, progress=None: resolved)
    monkeypatch.setattr(session, "load", load)
    return loads


@pytest.fixture
def magics(shell, monkeypatch, smollm2):
    """The registered magics instance; its session's model is a FakeLLM."""
    m = shell.magics_manager.registry["SmallcodeMagics"]
    m.fake = FakeLLM()
    m.loads = script_model(monkeypatch, m.session, m.fake, smollm2)
    return m


def test_split_options_keeps_free_text_task():
    assert split_options("--model x --no-insert write a parser, don't use regex") == (
        "--model x --no-insert",
        "write a parser, don't use regex",
    )
    assert split_options("write add --no-run") == ("--no-run", "write add")
    assert split_options("--max-tokens=30 write it") == ("--max-tokens=30", "write it")


def test_cell_magic_inserts_next_cell(shell, magics):
    magics.fake.replies = ["def add(a, b):\n    return a + b\n```"]
    run(shell, "--no-run write add")
    assert shell.rl_next_input.startswith("def add(a, b):")
    msgs = magics.fake.calls[0]["messages"]
    assert "write add" in msgs[-1]["content"]
    assert magics.fake.calls[0]["prefill"].startswith("```python")


def test_no_insert(shell, magics):
    shell.rl_next_input = None
    magics.fake.replies = ["x = 1\n```"]
    run(shell, "--no-insert --no-run set x")
    assert shell.rl_next_input is None


def test_cell_body_is_context(shell, magics):
    magics.fake.replies = ["def f():\n    return 1\n```"]
    run(shell, "--no-run write f", "# must return 1\nassert f() == 1")
    assert "assert f() == 1" in magics.fake.calls[0]["messages"][-1]["content"]


def test_max_tokens_option_and_trait(shell, magics):
    magics.fake.replies = ["a = 1\n```", "a = 2\n```"]
    run(shell, "--no-run --max-tokens 17 t")
    assert magics.fake.calls[-1]["max_tokens"] == 17
    shell.run_line_magic("config", "SmallcodeMagics.max_tokens = 33")
    run(shell, "--no-run t")
    assert magics.fake.calls[-1]["max_tokens"] == 33


def test_model_option_is_for_one_cell_only(shell, magics):
    magics.fake.replies = ["a = 1\n```", "a = 2\n```"]
    run(shell, "--no-run --model smollm2-135m t")
    run(shell, "--no-run t")
    assert magics.loads == ["smollm2-135m", None]
    assert magics.model == magics.session.config.model == "qwen2.5-coder-0.5b"


def test_traits_fill_the_session(shell):
    m = shell.magics_manager.registry["SmallcodeMagics"]
    assert m.session.config.cache_dir == Path(m.cache_dir)  # from the shell's config
    shell.run_line_magic("config", "SmallcodeMagics.timeout = 3.5")
    shell.run_line_magic("config", "SmallcodeMagics.model = 'smollm2-135m'")
    m.project_dir = "/tmp"
    assert (m.session.config.timeout, m.session.config.model) == (3.5, "smollm2-135m")
    assert m.session.config.project_dir == "/tmp"


def test_a_model_switched_through_the_session_shows_in_the_trait(shell, smollm2, capsys):
    m = shell.magics_manager.registry["SmallcodeMagics"]
    m.session.set_model("smollm2-135m")  # what the side panel's picker does
    assert m.model == "smollm2-135m"
    shell.run_line_magic("smallcode", "models")
    assert "* smollm2-135m" in capsys.readouterr().out


def test_empty_task_is_a_usage_error(magics):
    with pytest.raises(UsageError, match="needs a task"):
        magics.smallcode("   ", "some body")


def test_unknown_line_command(magics):
    with pytest.raises(UsageError, match="status"):
        magics.smallcode("frobnicate")


def test_config_is_traitlets(shell, capsys):
    shell.run_line_magic("config", "SmallcodeMagics.candidates = 3")
    m = shell.magics_manager.registry["SmallcodeMagics"]
    assert m.candidates == 3
    shell.run_line_magic("smallcode", "config")
    assert "SmallcodeMagics.candidates = 3" in capsys.readouterr().out


def test_config_from_ipython_config(shell):
    assert shell.magics_manager.registry["SmallcodeMagics"].cache_dir.endswith("cache")


def test_models_lists_presets(shell, capsys):
    shell.run_line_magic("smallcode", "models")
    out = capsys.readouterr().out
    assert "qwen2.5-coder-0.5b" in out and "smollm2-135m" in out and "phi-3-mini" in out


def test_model_unknown_name_is_clear(shell, capsys):
    shell.run_line_magic("smallcode", "model gpt-5")
    err = capsys.readouterr().err
    assert "unknown model 'gpt-5'" in err and "qwen2.5-coder-0.5b" in err
    assert shell.magics_manager.registry["SmallcodeMagics"].model == "qwen2.5-coder-0.5b"


def test_corrupt_model_in_cell_keeps_the_shell_usable(shell, tmp_path, capsys):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 64)
    run(shell, f"--model {bad} write add")
    assert "smallcode:" in capsys.readouterr().err
    assert shell.run_cell("1 + 1").result == 2
    assert not list((tmp_path / "cache").glob("*.gguf")) if (tmp_path / "cache").exists() else True


def test_status_before_loading(shell, capsys):
    shell.run_line_magic("smallcode", "status")
    out = capsys.readouterr().out
    assert "not loaded yet" in out and "memory:" in out and "sandbox isolation:" in out


def test_edge_mode_toggle(shell, capsys):
    shell.run_line_magic("smallcode", "edge")
    assert shell.magics_manager.registry["SmallcodeMagics"].edge
    shell.run_line_magic("smallcode", "edge off")
    assert not shell.magics_manager.registry["SmallcodeMagics"].edge


def test_unload_removes_magics(shell):
    shell.run_line_magic("unload_ext", "smallcode")
    assert "smallcode" not in shell.magics_manager.magics["cell"]
    assert not any(isinstance(c, SmallcodeMagics) for c in shell.configurables)
    shell.run_line_magic("load_ext", "smallcode")  # the fixture unloads again


def test_load_ext_is_cheap():
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "sh = InteractiveShell.instance()\n"
        "sh.run_line_magic('load_ext', 'smallcode')\n"
        "import sys\n"
        "heavy = [m for m in ('llama_cpp', 'torch', 'sentence_transformers', 'usearch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert 'smallcode' in sh.magics_manager.magics['cell']\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_resolve_is_lazy_and_cached(shell, smollm2):
    m = shell.magics_manager.registry["SmallcodeMagics"]
    m.model = "smollm2-135m"
    assert m.session.resolved() is None
    assert m.session.resolve().path == resolve("smollm2-135m").path
    assert m.session.resolve() is m.session.resolved() is m.session.resolve()


def test_interrupt_stops_cleanly_and_inserts_nothing(shell, magics, capsys):
    def boom(_messages):
        raise KeyboardInterrupt

    shell.rl_next_input = None
    magics.fake.replies = [boom]
    run(shell, "--no-run write add")
    assert "stopped by the user" in capsys.readouterr().err
    assert shell.rl_next_input is None
    assert shell.run_cell("40 + 2").result == 42


def test_failing_best_attempt_is_offered_but_marked(shell, magics, capsys):
    magics.fake.replies = ["def inc(x):\n    return x\n```"]
    run(shell, "--candidates 1 --max-iters 0 write a function inc(x) that adds one", "assert inc(1) == 2")
    out = capsys.readouterr().out
    assert "No candidate passed every test" in out and "inc(1)" in out
    assert shell.rl_next_input.startswith("# smallcode: best attempt, still failing")
    assert "def inc(x)" in shell.rl_next_input
    assert "inc" not in shell.user_ns  # generated code never ran in the user's namespace


def test_magic_sandbox_reads_but_never_changes_the_project(shell, tmp_path):
    m = shell.magics_manager.registry["SmallcodeMagics"]
    m.project_dir = str(tmp_path)
    data = tmp_path / "settings.txt"
    data.write_text("keep me")
    sb = m.session.sandbox()
    assert sb.run(f"print(open({str(data)!r}).read())").stdout.strip() == "keep me"
    r = sb.run(f"open({str(data)!r}, 'w').write('gone')")
    assert not r.ok and data.read_text() == "keep me"


def test_sandbox_that_cannot_start(shell, magics, monkeypatch, capsys):
    from smallcode_jupyter.sandbox import SandboxError

    def broken():
        raise SandboxError("sandbox kernel exited during startup")

    monkeypatch.setattr(magics.session, "sandbox", broken)
    magics.fake.replies = ["def inc(x):\n    return x + 1\n```"]
    run(shell, "write a function inc(x)", "assert inc(1) == 2")
    err = capsys.readouterr().err
    assert "exited during startup" in err and "generate_only_fallback" in err
    assert magics.fake.calls == []  # nothing generated without the user's consent
    shell.run_line_magic("config", "SmallcodeMagics.generate_only_fallback = True")
    run(shell, "write a function inc(x)", "assert inc(1) == 2")
    assert "WITHOUT running" in capsys.readouterr().err
    assert "return x + 1" in shell.rl_next_input


@pytest.mark.parametrize("stage", ["generate", "sandbox run"])
def test_interrupt_at_each_stage_leaves_no_orphans(shell, magics, capsys, stage):
    """Ctrl-C while the model writes, or while a candidate spins in the sandbox: the cell stops,
    the user's kernel is fine, and unloading leaves no process behind. The interrupt is sent
    when the stage is reached (an event), never after a delay."""
    import psutil

    def interrupted(_messages):
        raise KeyboardInterrupt

    spin = "def spin(x):\n    while True:\n        pass\n```"
    magics.fake.replies = [interrupted if stage == "generate" else spin]
    if stage == "sandbox run":
        sandbox = magics.session.sandbox()  # warm, so the interrupt lands in the run, not the start
        running, real_run = threading.Event(), sandbox.run

        def run_and_signal(*args, **kwargs):
            running.set()
            return real_run(*args, **kwargs)

        sandbox.run = run_and_signal
        threading.Thread(target=lambda: running.wait(120) and _thread.interrupt_main(), daemon=True).start()
    run(shell, "--candidates 1 --max-iters 0 write a function spin(x)", "assert spin(1) == 1")
    assert "stopped by the user" in capsys.readouterr().err
    assert shell.run_cell("6 * 7").result == 42  # the user's kernel is fine
    shell.run_line_magic("unload_ext", "smallcode")  # frees the sandbox kernels
    shell.run_line_magic("load_ext", "smallcode")
    leftovers = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    ]
    assert not leftovers, [p.cmdline()[:3] for p in leftovers]
