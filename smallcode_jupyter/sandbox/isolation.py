"""Which isolation layers this machine offers, and the policy a sandbox kernel runs under.

Layers (each on by default where available, see docs/security.md):

``bwrap``     bubblewrap: new user/pid/net/ipc/uts/cgroup namespaces, a read-only view of /usr, the
              interpreter and the project, private size-limited tmpfs for /tmp and the scratch dir.
``cgroup``    cgroup v1 ``memory`` and ``pids`` controllers: a memory and a process-count ceiling
              for the kernel and everything it starts, and a kill switch for all of it.
``rlimits``   set in the launcher: address space, CPU seconds, file size, open files, no core
              dumps, processes (not for root, which the kernel does not limit).
``landlock``  Linux Landlock: file access limited to an allow-list (writes only to scratch),
              no TCP, no signals to or ptrace of processes outside the sandbox.
``seccomp``   a BPF filter that refuses new AF_INET/AF_INET6 sockets and io_uring.

WHY probing is cached: probing bwrap costs one short process start; the answer does not
change while this process runs. A layer that passes the probe but then fails at a kernel's start
is recorded (``record_failure``): ``detect`` reports it unavailable from then on, with the reason,
and sandboxes of this process no longer ask for it. ``SMALLCODE_SANDBOX_LAYERS`` (comma-separated
names, or ``none``) restricts the layers, e.g. to test the fallback on a machine that has bwrap.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import platform
import shutil
import site
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import cgroup
from .errors import SandboxError

LAYERS = ("bwrap", "cgroup", "rlimits", "landlock", "seccomp")
ENV_LAYERS = "SMALLCODE_SANDBOX_LAYERS"
ENV_ALLOW_UNISOLATED = "SMALLCODE_ALLOW_UNISOLATED"
SECCOMP_ARCHES = ("x86_64", "aarch64")

# Names of credential stores and histories never shown to generated code, even inside the
# project (when the project is the home directory): dirs get an empty tmpfs, files /dev/null.
SECRET_NAMES = (
    *(".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".config", ".local", ".netrc"),
    *(".git-credentials", ".pypirc", ".npmrc", ".password-store", ".vault-token", ".pgpass", ".my.cnf"),
    *(".bash_history", ".zsh_history", ".python_history"),
)

GiB = 2**30
MiB = 2**20


@dataclass(frozen=True)
class Layer:
    """One isolation layer on this machine: usable or not, and why."""

    name: str
    available: bool
    detail: str

    def line(self, active: bool | None = None) -> str:
        on = self.available if active is None else active
        if on:
            return f"sandbox {self.name}: active ({self.detail})"
        if self.available:
            return f"sandbox {self.name}: off (available but not selected: {ENV_LAYERS} or layers=)"
        return f"sandbox {self.name}: unavailable ({self.detail})"


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is off or unknown."""
    if sys.platform != "linux":
        return 0
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # ..._VERSION flag
    return max(int(version), 0)


def _probe_bwrap(bwrap: str) -> str | None:
    """None when bwrap can create every namespace we ask for, else the reason it cannot."""
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    cmd += ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10, env={}, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{bwrap} cannot run: {e}"
    if proc.returncode != 0:
        err = proc.stderr.strip().splitlines()
        return f"{bwrap} cannot create namespaces here: {err[-1] if err else proc.returncode}"
    return None


_FAILED: dict[str, str] = {}  # layer -> why it failed at a kernel's start (this process)
_FAILED_LOCK = threading.Lock()


def record_failure(name: str, reason: str) -> None:
    """Remember that layer ``name`` passed its probe but failed at a kernel's start."""
    with _FAILED_LOCK:
        _FAILED.setdefault(name, reason)


def failures() -> dict[str, str]:
    """Layers that failed at a kernel's start in this process, with the reason."""
    with _FAILED_LOCK:
        return dict(_FAILED)


def detect() -> dict[str, Layer]:
    """Every layer of ``LAYERS`` with its availability: the cached probe of this machine, minus
    the layers that have since failed at a kernel's start (with that reason)."""
    layers = dict(_probe())
    for name, reason in failures().items():
        layers[name] = Layer(name, False, f"failed at kernel start, dropped: {reason}")
    return layers


@functools.cache
def _probe() -> dict[str, Layer]:
    """Every layer of ``LAYERS`` with its availability on this machine (cached)."""
    layers: dict[str, Layer] = {}
    linux = sys.platform == "linux"
    bwrap = shutil.which("bwrap")
    if not linux:
        layers["bwrap"] = Layer("bwrap", False, "Linux only")
    elif bwrap is None:
        layers["bwrap"] = Layer("bwrap", False, "bwrap not installed (Debian/Ubuntu: apt install bubblewrap)")
    else:
        why = _probe_bwrap(bwrap)
        layers["bwrap"] = Layer("bwrap", why is None, why or f"{bwrap}: user, pid, net, ipc namespaces")
    ok, detail = cgroup.probe()
    layers["cgroup"] = Layer("cgroup", ok, detail)
    if linux:  # RLIMIT_AS and friends behave differently (or not at all) elsewhere
        layers["rlimits"] = Layer("rlimits", True, "address space, CPU, file size, open files, core")
    else:
        layers["rlimits"] = Layer("rlimits", False, "Linux only")
    abi = landlock_abi()
    layers["landlock"] = Layer(
        "landlock", abi > 0, f"ABI {abi}" if abi else "not enabled in this kernel (needs Linux >= 5.13)"
    )
    machine = platform.machine()
    if not linux:
        layers["seccomp"] = Layer("seccomp", False, "Linux only")
    elif machine not in SECCOMP_ARCHES:
        layers["seccomp"] = Layer("seccomp", False, f"no filter for {machine}")
    elif not _seccomp_supported():
        layers["seccomp"] = Layer("seccomp", False, "kernel without seccomp filters")
    else:
        layers["seccomp"] = Layer("seccomp", True, "no new INET/INET6 sockets, no io_uring")
    return layers


def _seccomp_supported() -> bool:
    try:
        with open("/proc/self/status") as f:
            return any(line.startswith("Seccomp:") for line in f)
    except OSError:
        return False


def requested_layers(layers: Iterable[str] | None = None) -> set[str]:
    """The layers the caller allows: ``layers``, else $SMALLCODE_SANDBOX_LAYERS, else all."""
    if layers is None:
        env = os.environ.get(ENV_LAYERS, "").strip()
        if not env:
            return set(LAYERS)
        layers = [] if env.lower() == "none" else env.split(",")
    wanted = {name.strip() for name in layers if name.strip()}
    unknown = wanted - set(LAYERS)
    if unknown:
        raise ValueError(f"unknown sandbox layers {sorted(unknown)}; choose from {', '.join(LAYERS)}")
    return wanted


def active_layers(layers: Iterable[str] | None = None) -> list[str]:
    """Layers both requested and available, in ``LAYERS`` order."""
    wanted, found = requested_layers(layers), detect()
    return [name for name in LAYERS if name in wanted and found[name].available]


def is_isolated(active: Iterable[str]) -> bool:
    """Isolation worth the name confines the file system: bwrap, or Landlock in the fallback."""
    return bool({"bwrap", "landlock"} & set(active))


def status_lines(layers: Iterable[str] | None = None) -> list[str]:
    """One line per layer (active / off / unavailable + why), then the overall verdict."""
    wanted, found = requested_layers(layers), detect()
    lines = [found[name].line(found[name].available and name in wanted) for name in LAYERS]
    active = active_layers(layers)
    if "bwrap" in active:
        verdict = "namespaces (bubblewrap)"
    elif is_isolated(active):
        verdict = "fallback: " + "+".join(n for n in active if n != "cgroup")
    else:
        verdict = (
            "NONE: generated code would run with your permissions; smallcode refuses unless "
            f"allowed (Sandbox(allow_unisolated=True) or {ENV_ALLOW_UNISOLATED}=1)"
        )
    lines.append(f"sandbox isolation: {verdict}")
    return lines


def unisolated_error(active: list[str]) -> SandboxError:
    """The refusal to run generated code without bwrap or Landlock, with what to do about it."""
    found = detect()
    why = "; ".join(f"{n}: {found[n].detail}" for n in ("bwrap", "landlock"))
    return SandboxError(
        "no isolation layer is available for running generated code "
        f"(active: {', '.join(active) or 'none'}; {why}). Install bubblewrap "
        "(apt install bubblewrap) or use a kernel with Landlock; to run generated code with your "
        f"own permissions anyway, pass allow_unisolated=True or set {ENV_ALLOW_UNISOLATED}=1."
    )


# -- policy -------------------------------------------------------------------------------------


@dataclass
class Limits:
    """Resource ceilings of one sandbox kernel (bytes, seconds, counts)."""

    memory: int = 2 * GiB  # cgroup memory (+ slack) and the basis of the address-space limit
    address_space_headroom: int = 2 * GiB  # virtual memory an idle kernel reserves (~0.8 GB)
    cpu_seconds: int = 600  # backstop per kernel lifetime; the wall-clock timeout acts first
    file_size: int = 64 * MiB
    open_files: int = 512
    processes: int = 256  # cgroup pids.max (threads count); RLIMIT_NPROC only for non-root
    tmp_size: int = 128 * MiB  # private /tmp tmpfs (bwrap)
    scratch_size: int = 256 * MiB  # scratch dir tmpfs = cwd and HOME (bwrap)

    def rlimits(self) -> dict[str, tuple[int, int]]:
        """Resource name -> (soft, hard) for the launcher."""
        out = {
            "RLIMIT_AS": (self.memory + self.address_space_headroom,) * 2,
            "RLIMIT_CPU": (self.cpu_seconds, self.cpu_seconds + 5),
            "RLIMIT_FSIZE": (self.file_size,) * 2,
            "RLIMIT_NOFILE": (self.open_files,) * 2,
            "RLIMIT_CORE": (0, 0),
        }
        if os.geteuid() != 0:  # not enforced for root; counts every task of the user
            out["RLIMIT_NPROC"] = (_system_tasks() + self.processes,) * 2
        return out


def _system_tasks() -> int:
    """All tasks on the machine (an upper bound of this user's), from /proc/loadavg."""
    try:
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[1])
    except (OSError, IndexError, ValueError):
        return 4096


def _real(path: str | os.PathLike[str]) -> str:
    return os.path.realpath(path)


def _pth_dirs(site_dir: str) -> list[str]:
    """Directories that .pth files in ``site_dir`` add to sys.path (editable installs)."""
    out: list[str] = []
    try:
        names = sorted(n for n in os.listdir(site_dir) if n.endswith(".pth"))
    except OSError:
        return out
    for name in names:
        try:
            with open(os.path.join(site_dir, name), encoding="utf-8", errors="replace") as f:
                lines = f.read(65536).splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.strip()
            if line and not line.startswith(("#", "import ")) and os.path.isdir(line):
                out.append(_real(line))
    return out


@functools.cache
def interpreter_paths() -> tuple[str, ...]:
    """Read-only paths the kernel needs from this interpreter: prefixes, site-packages (real
    paths), and directories that .pth files add. Never the home directory itself."""
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    sites = list(site.getsitepackages())
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    if user_site and os.path.isdir(user_site):
        sites.append(user_site)
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        with contextlib.suppress(Exception):
            candidates.append(sysconfig.get_path(key))
    for s in sites:
        candidates.append(s)
        candidates.extend(_pth_dirs(s))
    candidates.append(os.path.dirname(_real(sys.executable)))
    home = _real(os.path.expanduser("~"))
    out: list[str] = []
    for c in candidates:
        if not c or not os.path.exists(c):
            continue
        r = _real(c)
        if r in ("/", home) or home.startswith(r + os.sep):
            continue  # never expose the home directory as a whole
        out.append(r)
    return tuple(_minimal(out))


def _minimal(paths: Iterable[str]) -> list[str]:
    """Drop paths that lie under another path of the list (one bind covers them)."""
    out: list[str] = []
    for p in sorted(set(paths), key=len):
        if not any(p == q or p.startswith(q.rstrip(os.sep) + os.sep) for q in out):
            out.append(p)
    return out


@dataclass
class Policy:
    """Everything needed to launch one kernel: active layers, limits and paths.

    ``notes`` says which layers were dropped after failing at a kernel's start, and why.
    """

    layers: list[str]
    limits: Limits = field(default_factory=Limits)
    project: str | None = None  # real path, bound read-only
    writable: tuple[str, ...] = ()  # real paths the user explicitly lets generated code change
    notes: list[str] = field(default_factory=list)

    def drop(self, name: str, reason: str) -> None:
        """Stop using layer ``name`` (it failed at a kernel's start): for the kernels of this
        policy, with a note, and for every sandbox of this process (``record_failure``)."""
        self.layers = [n for n in self.layers if n != name]
        self.notes.append(f"sandbox {name}: dropped after failing at kernel start ({reason})")
        record_failure(name, reason)

    @property
    def wrapped(self) -> bool:
        return "bwrap" in self.layers

    def read_only_paths(self) -> list[str]:
        paths = list(interpreter_paths())
        if self.project:
            paths.append(self.project)
        return _minimal(paths)

    def hidden_paths(self) -> list[str]:
        """Secrets directly inside the project, hidden from the kernel although the project is
        readable: a notebook kept in the home directory makes the home directory the project."""
        if not self.project:
            return []
        return [
            os.path.join(self.project, n)
            for n in SECRET_NAMES
            if os.path.lexists(os.path.join(self.project, n))
        ]
