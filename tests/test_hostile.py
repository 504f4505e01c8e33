"""The sandbox against hostile generated code (issue 6; results table in docs/security.md).

Every case is bounded in size, has a generous hang guard, and touches loopback only. Secrets,
the home directory, the project and a "user kernel" are fakes this module creates. Most cases
run twice: under bubblewrap (``bwrap``) and under the fallback without namespaces (``fallback``:
rlimits, Landlock, seccomp, cgroups), each skipped with its reason where the machine lacks the
layer. Run as root, the whole suite runs once more as an ordinary user (``tests/hostile_user.py``
creates one). How fast the sandbox is lives in benchmarks/sandbox_startup.py, not here.

    .venv/bin/python -m pytest tests/test_hostile.py -m hostile -q
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from smallcode_jupyter.sandbox import Sandbox, SandboxError, cgroup
from smallcode_jupyter.sandbox.isolation import Limits, MiB, detect, landlock_abi
from smallcode_jupyter.sandbox.kernel import SandboxKernelManager

from . import hostile_user

pytestmark = pytest.mark.hostile

ROOT = Path(__file__).resolve().parents[1]
CANARY_ENV = "SMALLCODE_TEST_CANARY"
LIMITS = Limits(
    memory=512 * MiB,
    file_size=16 * MiB,
    tmp_size=32 * MiB,
    scratch_size=64 * MiB,
    processes=128,
    cpu_seconds=120,
)
MODES = {
    "bwrap": ["bwrap", "cgroup", "rlimits", "landlock", "seccomp"],
    "fallback": ["cgroup", "rlimits", "landlock", "seccomp"],
}
AGENT_GROWTH = 100 * MiB
PATIENCE = 60.0  # s: a hang guard for "eventually" (processes dying), never a speed bound


def rss() -> int:
    return psutil.Process().memory_info().rss


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def eventually(condition: Callable[[], bool], timeout: float = PATIENCE) -> bool:
    """Poll ``condition`` until it holds or the hang guard runs out; its last value."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        h.update(f"{p.relative_to(root)}|{st.st_mode}|{st.st_size}".encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def expect_no_kill_switch(request: pytest.FixtureRequest, mode: str) -> None:
    """Without bwrap (no pid namespace) and without a cgroup, nothing can find a daemonised
    process again: a known gap (docs/security.md, Fallback), marked as an expected failure."""
    if mode == "fallback" and not detect()["cgroup"].available:
        why = f"fallback without a cgroup ({detect()['cgroup'].detail}): a daemon can outlive its kernel"
        request.applymarker(pytest.mark.xfail(reason=why, strict=True))


def mode_skip(mode: str) -> str | None:
    found = detect()
    if mode == "bwrap" and not found["bwrap"].available:
        return f"bubblewrap unusable here: {found['bwrap'].detail}"
    if mode == "fallback" and not found["landlock"].available:
        return f"Landlock unavailable here: {found['landlock'].detail}"
    return None


# -- the fake world ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Fake HOME with secrets, a canary env var, a private Jupyter runtime dir, a project."""
    base = tmp_path_factory.mktemp("hostile")
    home = base / "home"
    (home / ".ssh").mkdir(parents=True)
    key = home / ".ssh" / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nCANARY-KEY-" + uuid.uuid4().hex + "\n")
    key.chmod(0o600)
    (home / ".bashrc").write_text("# user's bashrc\n")
    startup = home / ".ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    runtime = base / "runtime"
    runtime.mkdir()
    project = base / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (project / "data.csv").write_text("a,b\n1,2\n")
    secret = "canary-" + uuid.uuid4().hex
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv(CANARY_ENV, secret)
        mp.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
        yield {
            "base": base, "home": home, "key": key, "startup": startup, "runtime": runtime,
            "project": project, "secret": secret,
        }  # fmt: skip


@pytest.fixture(scope="module", params=list(MODES))
def box(request, world):
    """A sandbox per mode, with small limits so the bombs stay cheap."""
    why = mode_skip(request.param)
    if why:
        pytest.skip(why)
    sb = Sandbox(timeout=10, project=world["project"], limits=LIMITS, layers=MODES[request.param])
    sb.start()
    assert sb.layers == [n for n in MODES[request.param] if detect()[n].available]
    yield sb
    sb.close()


def assert_works(sb: Sandbox) -> None:
    r = sb.run("print(6 * 7)")
    assert r.ok, r
    assert r.stdout == "42\n"


def run_ok(sb: Sandbox, code: str, **kw) -> str:
    r = sb.run(textwrap.dedent(code), **kw)
    assert r.ok, r
    return r.stdout


# -- time ----------------------------------------------------------------------------------------


def test_infinite_loop_is_interrupted(box):
    r = box.run("while True: pass", timeout=2)
    assert r.timed_out and not r.restarted
    assert_works(box)


def test_loop_ignoring_sigint_gets_a_new_kernel(box):
    box.run("marker = 1")
    r = box.run("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass", timeout=1)
    assert r.timed_out and r.restarted
    assert_works(box)
    assert box.run("marker").error_name == "NameError"


# -- memory, processes, files ----------------------------------------------------------------------


def test_memory_bomb_and_stepwise_allocation(box):
    before = rss()
    r = box.run("b = bytearray(64 * 2**30)")
    assert r.error_name == "MemoryError", r
    r = box.run("chunks = []\nwhile True:\n    chunks.append(bytearray(32 * 2**20))", timeout=30)
    assert r.error_name == "MemoryError" or r.died, r  # RLIMIT_AS or the cgroup's OOM kill
    box.reset()
    assert_works(box)
    assert rss() - before < AGENT_GROWTH


def test_fork_loop_is_stopped_by_the_pids_limit(box):
    if "cgroup" not in box.layers and os.geteuid() == 0:
        pytest.skip("no pids cgroup, and RLIMIT_NPROC does not apply to root")
    out = run_ok(box, """
        import os, time
        n = 0
        try:
            while n < 5000:
                if os.fork() == 0:
                    time.sleep(20)
                    os._exit(0)
                n += 1
        except OSError as e:
            print("stopped", n, e.errno)
        """, timeout=30)  # fmt: skip
    word, n, err = out.split()
    assert word == "stopped" and int(err) == 11  # EAGAIN
    if "cgroup" in box.layers:
        assert int(n) < LIMITS.processes  # pids.max
    else:  # an ordinary user without cgroups: RLIMIT_NPROC, which counts all the user's tasks
        assert int(n) < LIMITS.rlimits()["RLIMIT_NPROC"][0]
    box.reset()  # the old kernel's cgroup (children included) is killed
    assert_works(box)


def test_huge_file_gets_efbig(box):
    out = run_ok(box, """
        import errno
        written = 0
        try:
            with open("huge.bin", "wb") as f:
                while written < 2**31:
                    f.write(b"x" * 2**20)
                    written += 2**20
        except OSError as e:
            print(errno.errorcode[e.errno], written // 2**20)
        finally:
            import os
            os.remove("huge.bin")
        """, timeout=30)  # fmt: skip
    name, mb = out.split()
    assert name == "EFBIG" and int(mb) <= LIMITS.file_size // MiB


def test_many_files_in_tmp_fill_only_a_small_tmpfs(box):
    tag = uuid.uuid4().hex[:8]
    out = run_ok(box, f"""
        import errno, os, shutil
        n = 0
        try:
            while n < 10000:
                with open(f"/tmp/{tag}-{{n}}", "wb") as f:
                    f.write(b"x" * 2**20)
                n += 1
        except OSError as e:
            print(errno.errorcode[e.errno], n)
        for name in os.listdir("/tmp") if n else []:
            if name.startswith("{tag}"):
                os.remove(os.path.join("/tmp", name))
        """, timeout=30)  # fmt: skip
    name, n = out.split()
    if "bwrap" in box.layers:
        assert name == "ENOSPC" and int(n) <= LIMITS.tmp_size // MiB  # private tmpfs full
    else:
        assert name == "EACCES" and int(n) == 0  # Landlock: the host /tmp is not writable
    assert not list(Path("/tmp").glob(f"{tag}-*"))


def test_fd_exhaustion_gives_emfile_and_kernel_stays_usable(box):
    out = run_ok(box, """
        import errno
        files = []
        try:
            while len(files) < 100000:
                files.append(open("/dev/null"))
        except OSError as e:
            print(errno.errorcode[e.errno], len(files))
        """)  # fmt: skip
    name, n = out.split()
    assert name == "EMFILE" and int(n) < LIMITS.open_files
    assert_works(box)  # with every descriptor still held by `files`
    run_ok(box, "del files")


# -- the user's files, secrets, network ------------------------------------------------------------


def test_project_is_read_only(box, world):
    project = world["project"]
    before = tree_hash(project)
    out = run_ok(box, f"""
        import os, shutil
        p = {str(project)!r}
        print(open(os.path.join(p, "data.csv")).read().splitlines()[0])  # readable
        attempts = {{
            "rmtree": lambda: shutil.rmtree(p),
            "append": lambda: open(os.path.join(p, "data.csv"), "a").write("evil"),
            "create": lambda: open(os.path.join(p, "new.py"), "w").write("evil"),
            "rename": lambda: os.rename(os.path.join(p, "data.csv"), os.path.join(p, "x.csv")),
            "truncate": lambda: os.truncate(os.path.join(p, "pkg", "__init__.py"), 0),
            "symlink": lambda: os.symlink("/etc/passwd", os.path.join(p, "link")),
            # Without bwrap's read-only mount a chmod is a silent no-op (seccomp): see the hash.
            "chmod": lambda: os.chmod(os.path.join(p, "data.csv"), 0o777),
        }}
        for name, attempt in attempts.items():
            try:
                attempt()
                print(name, "WROTE")
            except OSError as e:
                print(name, type(e).__name__)
        """)  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "a,b"
    outcomes = dict(line.split() for line in lines[1:])
    assert len(outcomes) == 7
    assert [k for k, v in outcomes.items() if v == "WROTE" and k != "chmod"] == []
    assert tree_hash(project) == before


def test_ssh_key_and_canary_env_are_unreadable(box, world):
    out = run_ok(box, f"""
        import glob, os
        secret = {world["secret"]!r}
        try:
            print("KEY", open({str(world["key"])!r}).read()[:20])
        except OSError as e:
            print("key-denied", type(e).__name__)
        print("env-hit" if secret in repr(dict(os.environ)) or {CANARY_ENV!r} in os.environ else "env-clean")
        hits = readable = 0
        for path in glob.glob("/proc/[0-9]*/environ"):
            try:
                data = open(path, "rb").read()
            except OSError:
                continue
            readable += 1
            hits += secret.encode() in data
        print("proc-hits", hits, readable)
        print("home", os.path.expanduser("~"))
        """)  # fmt: skip
    assert "KEY" not in out and "key-denied" in out
    assert "env-clean" in out
    assert "proc-hits 0 " in out
    assert str(world["home"]) not in out


@pytest.mark.parametrize("mode", list(MODES))
def test_home_as_project_still_hides_secrets(mode, world):
    """A notebook kept in the home directory makes the home directory the project."""
    why = mode_skip(mode)
    if why:
        pytest.skip(why)
    home = world["home"]
    (home / "notes.txt").write_text("readable\n")
    with Sandbox(timeout=10, project=home, layers=MODES[mode], warm_spare=False) as sb:
        out = run_ok(sb, f"""
            import os
            print(open({str(home / "notes.txt")!r}).read().strip())
            for path in ({str(world["key"])!r}, {str(home / ".ssh")!r}):
                try:
                    seen = open(path).read()[:30] if os.path.isfile(path) else os.listdir(path)
                    print("LEAK" if seen else "hidden (empty)", seen)
                except OSError as e:
                    print("hidden", type(e).__name__)
            """)  # fmt: skip
    assert out.splitlines()[0] == "readable"
    assert "LEAK" not in out and "CANARY-KEY" not in out, out


def test_wrapper_processes_get_a_clean_environment(box, world):
    """bwrap's own pid 1 in the namespace would otherwise expose the agent's environment
    through /proc/1/environ; read every sandbox process's environ from the host side."""
    top = psutil.Process(box._pool.current().pid)
    procs = [top, *top.children(recursive=True)]
    assert len(procs) >= (3 if "bwrap" in box.layers else 1)
    for p in procs:
        env = p.environ()
        assert CANARY_ENV not in env and world["secret"] not in repr(env)
        if p.name() != "bwrap":  # bwrap holds our pid (no secret); the kernel must not
            assert "JPY_PARENT_PID" not in env or "bwrap" not in box.layers
        assert env.get("HOME", "").startswith(tempfile.gettempdir())


def test_loopback_http_server_gets_no_hits(box):
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = run_ok(box, f"""
            import socket, urllib.request
            try:
                urllib.request.urlopen("http://127.0.0.1:{server.server_port}/stolen", timeout=2)
                print("FETCHED")
            except Exception as e:
                print("blocked", type(e).__name__)
            try:
                socket.create_connection(("127.0.0.1", {server.server_port}), timeout=2)
                print("CONNECTED")
            except OSError as e:
                print("blocked", type(e).__name__)
            """, timeout=15)  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert "FETCHED" not in out and "CONNECTED" not in out
    assert hits == []


def test_startup_files_pth_and_bashrc_cannot_be_written(box, world):
    targets = [
        world["startup"] / "00-evil.py",
        world["home"] / ".bashrc",
        Path(site.getsitepackages()[0]) / "zz-evil.pth",
        Path(site.getsitepackages()[0]) / "sitecustomize.py",
        Path(sys.prefix) / "pyvenv.cfg",
    ]
    before = {t: t.read_bytes() if t.exists() else None for t in targets}
    out = run_ok(box, f"""
        for path in {[str(t) for t in targets]!r}:
            try:
                with open(path, "a") as f:
                    f.write("import os; os.system('evil')\\n")
                print("WROTE", path)
            except OSError as e:
                print("denied", type(e).__name__)
        """)  # fmt: skip
    assert "WROTE" not in out
    assert {t: t.read_bytes() if t.exists() else None for t in targets} == before


def test_user_kernel_cannot_be_driven_through_its_connection_file(box, world):
    """A real 'user kernel' (tcp, connection file in the runtime dir); the sandbox gets its
    connection info (key included) spelled out in the code and still cannot drive it."""
    km = SandboxKernelManager(connection_file=str(world["runtime"] / "kernel-user.json"))
    km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = km.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=30)
        pwned = world["base"] / f"pwned-{uuid.uuid4().hex[:6]}"
        info = km.get_connection_info(session=False)
        info = json.dumps({k: v.decode() if isinstance(v, bytes) else v for k, v in info.items()})
        attack = f"""
            import json, os
            runtime = {str(world["runtime"])!r}
            try:
                print("listing", os.listdir(runtime))
            except OSError as e:
                print("runtime-hidden", type(e).__name__)
            from jupyter_client import BlockingKernelClient
            c = BlockingKernelClient()
            c.load_connection_info(json.loads({info!r}))
            try:
                c.start_channels()
                reply = c.execute_interactive("open({str(pwned)!r}, 'w').write('x')", timeout=3)
                print("DROVE", reply["content"]["status"])
            except Exception as e:
                print("failed", type(e).__name__)
            """
        r = box.run(textwrap.dedent(attack), timeout=15)
        assert "DROVE" not in r.stdout and "listing" not in r.stdout, r
        assert not pwned.exists()
        reply = client.execute_interactive("x = 1 + 1", timeout=10)  # the user kernel is fine
        assert reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
    assert_works(box)


# -- killing, exiting, crashing --------------------------------------------------------------------


def test_kill_parent_leaves_agent_and_canary_alive(box):
    canary = subprocess.Popen(["sleep", "60"])
    try:
        r = box.run(textwrap.dedent(f"""
            import os
            for pid in (os.getppid(), {os.getpid()}, {canary.pid}):
                try:
                    os.kill(pid, 9)
                    print("sent", pid)
                except OSError as e:
                    print("refused", type(e).__name__)
            """))  # fmt: skip
        time.sleep(0.3)
        assert alive(os.getpid()) and alive(canary.pid)
        assert r.ok or r.died, r
        assert_works(box)
    finally:
        canary.kill()
        canary.wait()


_KILL_ALL = """
import json, os, subprocess, sys, time
from smallcode_jupyter.sandbox import Sandbox
canary = subprocess.Popen(["sleep", "60"])
sb = Sandbox(timeout=10, layers=sys.argv[1].split(","), warm_spare=False)
r = sb.run("import os\\nos.kill(-1, 9)")
time.sleep(0.5)
after = sb.run("print(6 * 7)")
alive = canary.poll() is None
sb.close()
canary.kill()
print(json.dumps({"canary": alive, "died": r.died, "ok": r.ok, "error": r.error_name,
                  "after": after.stdout}))
"""


@pytest.mark.parametrize("mode", list(MODES))
def test_kill_everything_inside_an_outer_pid_namespace(mode):
    """os.kill(-1, 9) is only ever run inside an outer pid namespace, so a sandbox failure
    could not take down the machine's processes."""
    why = mode_skip(mode)
    if why:
        pytest.skip(why)
    if mode == "fallback" and landlock_abi() < 6:
        pytest.skip("Landlock ABI < 6 cannot scope signals: kill(-1) is not contained without bwrap")
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and util-linux unshare for an outer pid namespace")
    cmd = [unshare, "--pid", "--fork", "--mount-proc", sys.executable, "-c", _KILL_ALL, ",".join(MODES[mode])]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=env, check=False)
    if proc.returncode != 0 and not proc.stdout:
        pytest.skip(f"no outer pid namespace here: {proc.stderr.strip()[-200:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])  # the agent survived to print it
    assert out["canary"], out
    assert out["after"] == "42\n", out


def test_exit_and_crash_are_reported_and_recovered(box):
    r = box.run("import sys\nsys.exit(3)")
    assert r.error_name == "SystemExit" and not r.died
    for code, how in (
        ("import os\nos._exit(1)", "code 1"),
        ("import ctypes\nctypes.string_at(0)", "SIGSEGV"),
    ):
        r = box.run(code)
        assert r.died and r.restarted and not r.timed_out, r
        assert how in r.error_value or "signal" in r.error_value, r
        assert_works(box)


def test_stdin_returns_or_raises_instead_of_waiting(box):
    for code in ("input('name? ')", "import sys\nsys.stdin.read()", "import sys\nsys.stdin.readline()"):
        r = box.run(code, timeout=30)
        assert not r.timed_out, (code, r)


def test_parent_state_is_unchanged(box):
    cwd, path, env = os.getcwd(), list(sys.path), dict(os.environ)
    names = set(globals())
    run_ok(box, """
        import os, sys
        os.chdir('/')
        sys.path.insert(0, '/nowhere')
        os.environ['SMALLCODE_LEAK'] = '1'
        globals()['assert_works'] = None
        """)  # fmt: skip
    assert (os.getcwd(), sys.path, dict(os.environ)) == (cwd, path, env)
    assert set(globals()) == names and callable(assert_works)


# -- output ----------------------------------------------------------------------------------------


def test_1gb_print_is_capped_on_both_sides(box):
    before = rss()
    r = box.run("s = 'x' * 2**20\nfor _ in range(1024):\n    print(s)", timeout=120)
    assert r.ok, r.error_value
    assert r.truncated
    head, marker = r.stdout.split("\n[... output truncated: ")
    assert len(head.encode()) <= 1_000_000
    assert int(marker.split()[0]) == 1024 * (2**20 + 1) - 1_000_000
    assert rss() - before < AGENT_GROWTH


# -- lifetime --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(MODES))
def test_no_background_process_survives_shutdown(mode, world, request):
    why = mode_skip(mode)
    if why:
        pytest.skip(why)
    expect_no_kill_switch(request, mode)
    sb = Sandbox(timeout=10, layers=MODES[mode], limits=LIMITS, warm_spare=False)
    tag = "smallcode-bg-" + uuid.uuid4().hex[:8]
    try:
        run_ok(sb, f"""
            import os, subprocess, sys
            sleeper = [sys.executable, "-c", "import time; time.sleep(120)", {tag!r}]
            subprocess.Popen(sleeper, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if os.fork() == 0:  # a classic double-forked daemon
                os.setsid()
                if os.fork() == 0:
                    os.execv(sys.executable, sleeper)
                os._exit(0)
            os.wait()
            """)  # fmt: skip

        def tagged() -> list[int]:
            out = []
            for p in psutil.process_iter(["cmdline"]):
                if tag in (p.info["cmdline"] or []):
                    out.append(p.pid)
            return out

        assert eventually(lambda: len(tagged()) == 2)
    finally:
        sb.close()
    eventually(lambda: not tagged())
    survivors = tagged()
    for pid in survivors:
        psutil.Process(pid).kill()
    assert survivors == []


_AGENT = """
import sys, time
from smallcode_jupyter.sandbox import Sandbox
sb = Sandbox(timeout=10, layers=sys.argv[1].split(","))
sb.run("import subprocess; subprocess.Popen(['sleep', '300'], start_new_session=True)")
sb.wait_for_spare(60)
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("mode", list(MODES))
def test_killed_agent_takes_its_kernels_with_it(mode, request):
    """SIGKILL to the agent (no atexit, no finally): kernels, spares and their children go."""
    why = mode_skip(mode)
    if why:
        pytest.skip(why)
    expect_no_kill_switch(request, mode)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    agent = subprocess.Popen(
        [sys.executable, "-c", _AGENT, ",".join(MODES[mode])], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert agent.stdout is not None and agent.stdout.readline().strip() == "ready"
        tree = psutil.Process(agent.pid).children(recursive=True)
        assert len(tree) >= 3  # two kernels (+ bwrap) and the sleeper
    finally:
        agent.kill()
        agent.wait()
    # Orphans are reaped by init, maybe late: zombies count as dead.
    eventually(lambda: not any(alive(p.pid) for p in tree))
    left = [p for p in tree if alive(p.pid)]
    names = [p.name() for p in left]
    for p in left:
        p.kill()
    assert left == [], names


# -- no isolation: refuse unless allowed -----------------------------------------------------------


def test_no_isolation_refuses_unless_allowed(monkeypatch):
    monkeypatch.delenv("SMALLCODE_ALLOW_UNISOLATED", raising=False)
    with pytest.raises(SandboxError, match="no isolation layer"):
        Sandbox(layers=["rlimits"])
    monkeypatch.setenv("SMALLCODE_SANDBOX_LAYERS", "none")
    with pytest.raises(SandboxError, match="allow_unisolated=True"):
        Sandbox()
    with Sandbox(allow_unisolated=True, warm_spare=False) as sb:
        assert sb.layers == []
        assert_works(sb)


# -- as an ordinary user ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ordinary_user() -> str:
    """The unprivileged account the suite runs as a second time (created when missing)."""
    why = hostile_user.prepare()
    if why:
        pytest.skip(why)
    return hostile_user.USER


_START_AS_USER = """
import json, sys
from smallcode_jupyter.sandbox import Sandbox, SandboxError, cgroup, isolation
if sys.argv[1] == "old-probe":  # the probe before the fix: the shared parent exists, so yes
    cgroup.probe = lambda: (True, "the parent exists")
out = {"probe": isolation.detect()["cgroup"].line()}
try:
    with Sandbox(warm_spare=False) as sb:
        out.update(layers=sb.layers, notes=sb.notes, stdout=sb.run("print(6 * 7)").stdout)
except SandboxError as e:
    out["error"] = str(e)
out["after"] = isolation.detect()["cgroup"].line()
print(json.dumps(out))
"""


def start_as_user(probe: str) -> dict:
    proc = hostile_user.run([sys.executable, "-c", _START_AS_USER, probe], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_ordinary_user_starts_a_sandbox_after_root_made_the_cgroup_parent(ordinary_user):
    """Issue 12: once root had created /sys/fs/cgroup/memory/smallcode, the cgroup probe said
    yes to every user and their kernel start failed with a PermissionError (and a question
    about ipykernel). The probe now creates and removes a child; a layer that still fails at
    a kernel's start is dropped with a note instead of failing the start."""
    if not detect()["cgroup"].available:
        pytest.skip(f"no cgroup layer for root here either: {detect()['cgroup'].detail}")
    cgroup.probe()  # as root: leaves the shared parent behind, as any earlier root run does
    assert (cgroup.CGROUP_V1 / "memory" / cgroup.CGROUP_PARENT).is_dir()

    out = start_as_user("probe")
    assert "error" not in out, out
    assert out["stdout"] == "42\n", out
    assert out["probe"].startswith("sandbox cgroup: unavailable (cgroup v1 not writable by this user"), out
    assert "cgroup" not in out["layers"] and out["notes"] == [], out

    out = start_as_user("old-probe")  # the layer passes the probe, then fails at the start
    assert "error" not in out, out
    assert out["stdout"] == "42\n", out
    assert "cgroup" not in out["layers"], out
    assert len(out["notes"]) == 1 and "Permission denied" in out["notes"][0], out
    assert "/sys/fs/cgroup/memory/smallcode" in out["notes"][0], out
    assert "ipykernel" not in json.dumps(out), out
    assert out["after"].startswith("sandbox cgroup: unavailable (failed at kernel start, dropped:"), out


def test_hostile_suite_as_an_ordinary_user(ordinary_user):
    """Every case of this module once more, as ``ordinary_user`` (the tests that need root skip
    there with their reason). The inner run's summary is printed (pytest -s, or on failure)."""
    cmd = [sys.executable, "-m", "pytest", str(Path(__file__)), "-m", "hostile", "-q", "-rsx"]
    cmd += ["-p", "no:cacheprovider", "--no-header"]
    proc = hostile_user.run(cmd, timeout=1800)
    summary = proc.stdout[-6000:]
    print(f"--- {Path(__file__).name} as {ordinary_user} (exit {proc.returncode}) ---\n{summary}")
    assert proc.returncode == 0, summary + proc.stderr[-2000:]
    assert " passed" in summary
