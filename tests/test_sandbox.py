"""Sandbox tests against real kernels (each kernel start costs ~1 s: share where state allows).

No speed bounds here: benchmarks/sandbox_startup.py measures how fast the sandbox is.
"""

from __future__ import annotations

import _thread
import asyncio
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from smallcode_jupyter.sandbox import RunResult, Sandbox, SandboxError, cgroup, command, isolation, kernel
from smallcode_jupyter.sandbox.command import sandbox_env
from smallcode_jupyter.sandbox.errors import LayerError
from smallcode_jupyter.sandbox.inkernel import LAUNCHER, configure, source_call
from smallcode_jupyter.sandbox.isolation import Policy
from smallcode_jupyter.sandbox.kernel import SandboxKernelManager, kernel_env

ANSI = re.compile(r"\x1b\[")


def eventually(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Poll ``condition`` until it holds or the hang guard runs out; its last value."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="module")
def sb():
    with Sandbox(timeout=10) as sandbox:
        yield sandbox


def assert_works(sb: Sandbox) -> None:
    r = sb.run("print(6 * 7)")
    assert r.ok, r
    assert r.stdout == "42\n"


def test_success_with_stdout_and_stderr(sb):
    r = sb.run("import sys\nprint('hello')\nprint('oops', file=sys.stderr)\n1 + 1")
    assert isinstance(r, RunResult)
    assert r.ok
    assert "hello\n" in r.stdout
    assert "oops\n" in r.stdout
    assert r.stdout.endswith("2\n")  # execute_result text/plain
    assert r.error_name is None
    assert not (r.timed_out or r.died or r.restarted or r.truncated)
    assert r.seconds > 0


def test_exception_has_plain_traceback(sb):
    r = sb.run("def f():\n    return 1 / 0\n\nprint('before')\nf()")
    assert not r.ok
    assert r.error_name == "ZeroDivisionError"
    assert "division by zero" in r.error_value
    assert "ZeroDivisionError" in r.traceback
    assert "return 1 / 0" in r.traceback
    assert not ANSI.search(r.traceback)
    assert r.stdout == "before\n"
    assert not r.died


def test_syntax_error(sb):
    r = sb.run("def f(:\n    pass")
    assert not r.ok
    assert r.error_name == "SyntaxError"
    assert not ANSI.search(r.traceback)


def test_sys_exit_is_an_error_not_a_crash(sb):
    r = sb.run("import sys\nsys.exit(3)")
    assert not r.ok
    assert r.error_name == "SystemExit"
    assert not r.died
    assert_works(sb)


def test_input_fails_instead_of_waiting(sb):
    r = sb.run("x = input('name? ')")
    assert not r.ok
    assert r.error_name  # StdinNotImplementedError
    assert not r.timed_out


def test_infinite_loop_times_out_then_recovers(sb):
    r = sb.run("while True: pass", timeout=2)
    assert r.timed_out
    assert not r.ok
    assert r.error_name == "TimeoutError"
    assert not r.restarted  # the interrupt was enough
    assert_works(sb)


def test_loop_ignoring_sigint_gets_kernel_replaced(sb):
    sb.run("marker = 1")
    code = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass"
    r = sb.run(code, timeout=1)
    assert r.timed_out
    assert r.restarted
    assert not r.ok
    assert_works(sb)
    assert sb.run("marker").error_name == "NameError"  # fresh kernel


def test_os_exit_kills_kernel_and_next_run_works(sb):
    r = sb.run("print('last words', flush=True)\nimport os\nos._exit(1)")
    assert not r.timed_out  # noticed as a death, not at the timeout
    assert r.died
    assert r.restarted
    assert not r.ok
    assert r.error_name == "KernelDied"
    assert "code 1" in r.error_value
    assert_works(sb)


def test_output_is_capped():
    with Sandbox(timeout=30, max_output=100_000, warm_spare=False) as small:
        r = small.run("for _ in range(50):\n    print('x' * 1_000_000)")
    assert r.ok
    assert r.truncated
    marker = "\n[... output truncated: "
    assert marker in r.stdout
    head, tail = r.stdout.split(marker)
    assert len(head) == 100_000
    assert int(tail.split()[0]) == 50 * 1_000_001 - 100_000


def test_default_cap_with_50_mb(sb):
    r = sb.run("s = 'y' * 1_000_000\nfor _ in range(50):\n    print(s)", timeout=30)
    assert r.truncated
    assert len(r.stdout) <= sb.max_output + 100


def test_reset_gives_fresh_state(sb):
    sb.run("secret = 123")
    assert sb.run("print(secret)").stdout == "123\n"
    sb.reset()
    r = sb.run("print(secret)")
    assert r.error_name == "NameError"


def test_nothing_leaks_into_the_caller(sb):
    cwd, path, env = os.getcwd(), list(sys.path), dict(os.environ)
    r = sb.run(
        textwrap.dedent(
            """
            import os, sys
            print(os.getcwd())
            print(sys.executable)
            os.chdir('/')
            sys.path.insert(0, '/nowhere')
            os.environ['SMALLCODE_LEAK'] = '1'
            leaked_global = 1
            """
        )
    )
    assert r.ok, r
    kernel_cwd, kernel_python = r.stdout.splitlines()
    assert kernel_python == sys.executable
    assert kernel_cwd != cwd
    assert Path(kernel_cwd).name.startswith("smallcode-sandbox-")
    assert Path(kernel_cwd).parent == Path(tempfile.gettempdir())
    assert (os.getcwd(), sys.path, dict(os.environ)) == (cwd, path, env)
    assert "leaked_global" not in globals()


def test_kernel_env_drops_jupyter_variables():
    env = kernel_env({"PATH": "/bin", "JPY_PARENT_PID": "1", "JPY_SESSION_NAME": "x.ipynb"})
    assert env == {"PATH": "/bin"}


def test_sandbox_env_is_an_allow_list(tmp_path):
    base = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "AWS_SECRET_ACCESS_KEY": "s3cr3t",
            "GITHUB_TOKEN": "t", "JPY_PARENT_PID": "1", "PYTHONPATH": "/home/u/src", "HOME": "/home/u"}  # fmt: skip
    env = sandbox_env(base, str(tmp_path), Policy(["bwrap"]))
    assert env["PATH"] == "/usr/bin" and env["LC_ALL"] == "C" and env["LANG"] == "C.UTF-8"
    assert env["HOME"] == str(tmp_path) and env["TMPDIR"] == "/tmp"
    assert not {"AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "JPY_PARENT_PID", "PYTHONPATH"} & set(env)
    assert sandbox_env(base, str(tmp_path), Policy(["landlock"]))["TMPDIR"] == str(tmp_path)


def test_layer_selection_and_status_lines(monkeypatch):
    monkeypatch.setenv(isolation.ENV_LAYERS, "rlimits,landlock")
    assert set(isolation.active_layers()) <= {"rlimits", "landlock"}
    lines = isolation.status_lines()
    assert len(lines) == len(isolation.LAYERS) + 1
    assert all(line.startswith("sandbox ") for line in lines)
    assert any("bwrap: off" in line or "bwrap: unavailable" in line for line in lines)
    with pytest.raises(ValueError, match="unknown sandbox layers"):
        isolation.requested_layers(["chroot"])


def test_launcher_fails_closed(tmp_path):
    """A layer that cannot be applied stops the kernel before ipykernel starts."""
    error_file = tmp_path / "err.txt"
    cfg = {"error_file": str(error_file), "rlimits": {"RLIMIT_NOT_A_LIMIT": [1, 1]}}
    proc = subprocess.run(
        [sys.executable, LAUNCHER, json.dumps(cfg), "-f", str(tmp_path / "k.json")],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 71
    report = json.loads(error_file.read_text())
    assert report["layer"] == "rlimits"
    assert "RLIMIT_NOT_A_LIMIT" in report["error"]


def test_seccomp_program_is_well_formed():
    from smallcode_jupyter.sandbox.inkernel.launcher import seccomp_program

    for machine in ("x86_64", "aarch64"):
        for metadata in (False, True):
            prog = seccomp_program(machine, metadata)
            assert len(prog) % 8 == 0 and 8 < len(prog) // 8 < 64


def test_kernel_command_uses_this_interpreter_with_hook():
    km = SandboxKernelManager()
    assert km.kernel_spec.argv[:3] == [sys.executable, "-m", "ipykernel_launcher"]

    class Wrapped(SandboxKernelManager):
        def wrap_command(self, cmd: list[str]) -> list[str]:
            return ["prlimit", "--", *cmd]

    cmd = Wrapped(connection_file="/tmp/c.json").format_kernel_cmd()
    assert cmd[:3] == ["prlimit", "--", sys.executable]
    assert cmd[-1].endswith("c.json")


def test_cancel_from_another_thread(sb):
    threading.Timer(0.5, sb.cancel).start()
    r = sb.run("import time\ntime.sleep(30)", timeout=20)
    assert r.cancelled and not r.timed_out
    assert not r.ok
    assert_works(sb)


def test_keyboard_interrupt_interrupts_kernel_and_reraises(sb):
    threading.Timer(0.5, _thread.interrupt_main).start()
    with pytest.raises(KeyboardInterrupt):
        sb.run("while True: pass", timeout=20)
    assert_works(sb)


def test_run_from_worker_thread_and_inside_event_loop(sb):
    results: list[RunResult] = []
    worker = threading.Thread(target=lambda: results.append(sb.run("print('thread')")))
    worker.start()
    worker.join(30)
    assert results and results[0].stdout == "thread\n"

    async def in_a_cell() -> RunResult:  # a notebook cell runs with a live asyncio loop
        return sb.run("print('loop')")

    assert asyncio.run(in_a_cell()).stdout == "loop\n"


def test_start_failure_is_a_sandbox_error_naming_the_cause(monkeypatch):
    monkeypatch.setattr(
        SandboxKernelManager, "wrap_command", lambda self, cmd: ["/nonexistent/python", *cmd[1:]]
    )
    with pytest.raises(SandboxError, match="cannot start a sandbox kernel") as caught:
        Sandbox(warm_spare=False).start()
    assert "/nonexistent/python" in str(caught.value)
    assert "ipykernel is not installed" not in str(caught.value)  # it is: no misleading hint
    monkeypatch.setattr(kernel, "_has_ipykernel", lambda: False)
    with pytest.raises(SandboxError, match="ipykernel is not installed") as caught:
        Sandbox(warm_spare=False).start()


@pytest.fixture
def fresh_failures(monkeypatch):
    """Layers recorded as failed at a kernel's start are forgotten after the test."""
    monkeypatch.setattr(isolation, "_FAILED", {})


def test_configure_is_sent_by_source_and_leaves_no_names():
    code = source_call(configure, "configure", 10, "<%d>", None)
    compile(code, "<cell>", "exec")  # one statement, valid Python
    assert code.startswith("exec(compile(") and "def configure(" in code
    with Sandbox(warm_spare=False, max_output=1000) as small:
        r = small.run("print(sorted(k for k in globals() if not k.startswith('_')))\nprint('x' * 5000)")
    names = eval(r.stdout.splitlines()[0])
    assert set(names) <= {"In", "Out", "exit", "quit", "get_ipython", "open"}, names
    assert r.truncated


def test_a_layer_failing_at_start_is_dropped_with_a_note(monkeypatch, fresh_failures):
    """Issue 12: a cgroup that passed the probe but cannot be created for the kernel (another
    user's parent) no longer fails the start: the layer is dropped and says why."""
    found = isolation.detect()
    if not isolation.is_isolated([n for n in ("bwrap", "landlock") if found[n].available]):
        pytest.skip("needs bwrap or Landlock to stay isolated without the cgroup")
    monkeypatch.setattr(
        isolation, "_probe", lambda: {**found, "cgroup": isolation.Layer("cgroup", True, "forced")}
    )

    def denied(*args, **kwargs):
        path = "/sys/fs/cgroup/memory/smallcode/kernel-1-x"
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(kernel, "Cgroup", denied)
    with Sandbox(warm_spare=False) as sb:
        assert_works(sb)
        assert "cgroup" not in sb.layers
        assert len(sb.notes) == 1
        assert "Permission denied" in sb.notes[0] and "/sys/fs/cgroup/memory/smallcode" in sb.notes[0]
    line = next(line for line in isolation.status_lines() if line.startswith("sandbox cgroup:"))
    assert line.startswith("sandbox cgroup: unavailable (failed at kernel start, dropped:"), line
    assert "cgroup" not in Sandbox(warm_spare=False).layers  # not asked for again in this process


def test_a_launcher_layer_failing_at_start_is_dropped_or_named(monkeypatch, fresh_failures):
    """The launcher names the layer it could not apply; without it the kernel starts only if
    isolation remains, else the error says which layer failed and why (not 'ipykernel?')."""
    if not isolation.detect()["landlock"].available:
        pytest.skip("needs Landlock")
    real = command.launcher_config

    def broken_rlimits(*args, **kwargs):
        cfg = real(*args, **kwargs)
        if "rlimits" in cfg:
            cfg["rlimits"] = {"RLIMIT_NOT_A_LIMIT": [1, 1]}
        return cfg

    monkeypatch.setattr(command, "launcher_config", broken_rlimits)
    with Sandbox(warm_spare=False, layers=["rlimits", "landlock"]) as sb:
        assert_works(sb)
        assert sb.layers == ["landlock"]
        assert "RLIMIT_NOT_A_LIMIT" in sb.notes[0]

    def broken_landlock(*args, **kwargs):
        cfg = real(*args, **kwargs)
        cfg["landlock"] = {"read": 5}  # not a list of paths: apply_landlock raises
        return cfg

    monkeypatch.setattr(command, "launcher_config", broken_landlock)
    with pytest.raises(LayerError, match="landlock layer failed at kernel start: TypeError") as caught:
        Sandbox(warm_spare=False, layers=["landlock"]).start()
    assert caught.value.layer == "landlock" and "ipykernel" not in str(caught.value)


def test_cgroup_probe_leaves_nothing_behind():
    ok, detail = cgroup.probe()
    if not ok:
        pytest.skip(detail)
    for ctl in cgroup.CONTROLLERS:
        parent = cgroup.CGROUP_V1 / ctl / cgroup.CGROUP_PARENT
        assert not list(parent.glob(f"{cgroup.PROBE}-{os.getpid()}-*"))


def test_garbage_collected_sandbox_shuts_its_kernel_down():
    sandbox = Sandbox(warm_spare=False)
    workdir = sandbox.run("import os; print(os.getcwd())").stdout.strip()
    # Host pids: the launcher (bwrap when wrapped) and everything below it.
    top = psutil.Process(sandbox._pool.current().pid)
    pids = [top.pid, *(p.pid for p in top.children(recursive=True))]
    assert len(pids) >= (3 if "bwrap" in sandbox.layers else 1)
    del sandbox, top
    gc.collect()
    # The namespace's processes die just after bwrap: wait (a hang guard, not a speed bound).
    assert eventually(lambda: not any(alive(p) for p in pids))
    assert not os.path.exists(workdir)


_NO_ORPHANS = """
import atexit, os, sys
import psutil
me = psutil.Process()
def children():
    return " ".join(str(p.pid) for p in me.children(recursive=True))
# Registered first, so it runs after the sandbox's own atexit hook.
atexit.register(lambda: print("exit:", children(), flush=True))
from smallcode_jupyter.sandbox import Sandbox
sb = Sandbox(timeout=5)
sb.start()
workdir = sb.run("import os; print(os.getcwd())").stdout.strip()
sb.reset()
sb.run("import os; os._exit(3)")
sb.run("1")
print("running:", children())
if sys.argv[1] == "close":
    sb.close()
    print("closed:", children())
    print("workdir kept:", os.path.exists(workdir))
# else: rely on the atexit fallback
"""


@pytest.mark.parametrize("how", ["close", "atexit"])
def test_no_orphan_processes(how):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-c", _NO_ORPHANS, how],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    lines = dict(line.split(":", 1) for line in proc.stdout.splitlines())
    assert lines["running"].split()  # current kernel and its spare were children
    assert lines["exit"].strip() == ""  # nothing left when the interpreter exits
    if how == "close":
        assert lines["closed"].strip() == ""  # nothing left once close() returned
        assert lines["workdir kept"].strip() == "False"


def test_project_modules_are_importable_but_read_only(tmp_path):
    pkg = tmp_path / "mylib.py"
    pkg.write_text("def helper():\n    return 42\n")
    with Sandbox(timeout=10, project=tmp_path) as sb:
        r = sb.run("import mylib\nprint(mylib.helper())")
        assert r.ok and r.stdout.strip() == "42", r.traceback
        assert not sb.run(f"open({str(pkg)!r}, 'a').write('x')").ok
    assert pkg.read_text() == "def helper():\n    return 42\n"
