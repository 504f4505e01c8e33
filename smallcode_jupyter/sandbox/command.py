"""The command line and environment that start one confined sandbox kernel.

``kernel command`` = [sh cgroup-join --] [bwrap ... --] python launcher.py CONFIG -f CONNECTION_FILE

Paths are bound at their real paths, so tracebacks, ``sys.executable`` and ``__file__`` read
the same inside and outside.
"""

from __future__ import annotations

import json
import os
import shutil

from .inkernel import LAUNCHER
from .inkernel.launcher import LandlockRules, LauncherConfig
from .isolation import MiB, Policy

# Environment variables passed through to the kernel; everything else (tokens, keys, cloud
# credentials, JPY_*, the user's PYTHONPATH) is dropped.
ENV_ALLOW = (
    *("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "SOURCE_DATE_EPOCH", "VIRTUAL_ENV", "CONDA_PREFIX"),
    *("PYTHONHASHSEED", "PYTHONIOENCODING", "PYTHONUTF8"),
    *("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"),
)
ENV_ALLOW_PREFIX = ("LC_",)

# Host files outside /usr a Python process may need; never the whole of /etc under bwrap.
ETC_FILES = (
    *("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "alternatives"),
    *("ssl", "ca-certificates", "ca-certificates.conf", "pki", "crypto-policies"),
    *("nsswitch.conf", "mime.types", "fonts", "matplotlibrc", "os-release"),
)
TOP_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
DEV_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
SHM_SIZE = 64 * MiB


def sandbox_env(base: dict[str, str], workdir: str, policy: Policy) -> dict[str, str]:
    """Allow-listed variables plus a HOME, TMPDIR and user of the sandbox's own."""
    env = {k: v for k, v in base.items() if k in ENV_ALLOW or k.startswith(ENV_ALLOW_PREFIX)}
    env.update(
        HOME=workdir,
        USER="sandbox",
        LOGNAME="sandbox",
        TMPDIR="/tmp" if policy.wrapped else workdir,
        MPLBACKEND="Agg",
        MALLOC_ARENA_MAX="2",  # fewer 64 MB arenas reserved per thread: lower RLIMIT_AS floor
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _runtime_dirs() -> list[str]:
    """The user's Jupyter runtime dir(s), to hide if they lie inside a bound path."""
    out = []
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        out.append(os.path.realpath(jupyter_runtime_dir()))
    except Exception:
        pass
    env = os.environ.get("JUPYTER_RUNTIME_DIR")
    if env:
        out.append(os.path.realpath(env))
    return out


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def bwrap_args(policy: Policy, workdir: str, rundir: str) -> list[str]:
    """bubblewrap's command line: new namespaces, read-only system and interpreter, the project
    read-only with its secrets hidden, private tmpfs for /tmp, /dev/shm and the scratch dir."""
    lim = policy.limits
    args = [shutil.which("bwrap") or "bwrap"]
    args += ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    args += ["--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(SHM_SIZE), "--tmpfs", "/dev/shm"]
    args += ["--size", str(lim.tmp_size), "--tmpfs", "/tmp"]
    args += ["--ro-bind", "/usr", "/usr"]
    for name in TOP_DIRS:
        host = f"/{name}"
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    ro = policy.read_only_paths()
    for path in ro:
        args += ["--ro-bind", path, path]
    for path in policy.hidden_paths():
        if os.path.isdir(path) and not os.path.islink(path):
            args += ["--tmpfs", path, "--remount-ro", path]
        else:
            args += ["--ro-bind", "/dev/null", path]
    for path in policy.writable:
        args += ["--bind", path, path]
    for runtime in _runtime_dirs():
        if _under(runtime, [*ro, *policy.writable]) and os.path.isdir(runtime):
            args += ["--tmpfs", runtime]  # never let the kernel see other kernels' keys
    args += ["--size", str(lim.scratch_size), "--tmpfs", workdir]
    args += ["--bind", rundir, rundir, "--ro-bind", LAUNCHER, LAUNCHER]
    args += ["--chdir", workdir, "--unsetenv", "JPY_PARENT_PID", "--"]
    return args


def _entries(directory: str, hidden: list[str]) -> list[str]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [p for p in (os.path.join(directory, n) for n in names) if p not in hidden]


def launcher_config(
    policy: Policy, workdir: str, rundir: str, cgroup_procs: str | None = None
) -> LauncherConfig:
    """What the launcher must apply for ``policy`` (the layers that are not bwrap or the cgroup)."""
    layers = set(policy.layers)
    cfg: LauncherConfig = {"error_file": os.path.join(rundir, "launcher-error.txt"), "unset_env": []}
    if policy.wrapped:
        # Under a pid namespace our pid means nothing; bwrap --die-with-parent does its job.
        cfg["unset_env"] = ["JPY_PARENT_PID"]
    if "rlimits" in layers:
        cfg["rlimits"] = policy.limits.rlimits()
    if cgroup_procs and not policy.wrapped:
        cfg["watchdog"] = cgroup_procs
    if "landlock" in layers:
        read = ["/usr", *(f"/{d}" for d in TOP_DIRS), "/etc", "/proc", "/sys"]
        read += policy.read_only_paths()
        hidden = policy.hidden_paths()
        if hidden and policy.project in read:
            # Landlock can only allow: grant the project entry by entry, minus its secrets
            # (the project dir itself then cannot be listed, its entries can).
            read.remove(policy.project)
            read += _entries(policy.project, hidden)
        write = [workdir, rundir, *policy.writable]
        if policy.wrapped:
            write += ["/tmp", "/dev/shm"]  # private tmpfs mounts
        rules: LandlockRules = {"read": read, "write": write, "files": list(DEV_FILES)}
        cfg["landlock"] = rules
    if "seccomp" in layers:
        cfg["seccomp"] = True
        # Landlock does not mediate chmod/chown/xattrs; read-only mounts do (bwrap).
        cfg["seccomp_metadata"] = not policy.wrapped
    return cfg


def kernel_command(
    cmd: list[str], policy: Policy, workdir: str, rundir: str, cgroup_procs: str | None = None
) -> list[str]:
    """Wrap ``python -m ipykernel_launcher -f FILE`` (as built by jupyter_client)."""
    if not policy.layers:
        return cmd
    if cmd[1:3] != ["-m", "ipykernel_launcher"]:
        raise ValueError(f"unexpected kernel command {cmd!r}")
    cfg = launcher_config(policy, workdir, rundir, cgroup_procs)
    inner = [cmd[0], LAUNCHER, json.dumps(cfg, separators=(",", ":")), *cmd[3:]]
    if policy.wrapped:
        inner = [*bwrap_args(policy, workdir, rundir), *inner]
    return inner
