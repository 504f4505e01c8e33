"""The sandbox kernel's first code: apply limits and confinement, then become ipykernel.

Run as ``python launcher.py CONFIG_JSON -f CONNECTION_FILE`` (inside bubblewrap when available).
Standard library only, and run by path rather than imported from the package, so the kernel
needs nothing of smallcode bound into its view of the file system. ``CONFIG_JSON`` is a
``LauncherConfig``, built by ``sandbox.command.launcher_config``.

In order, each only when the config asks for it:

1. resource limits (``setrlimit``);
2. ``PR_SET_NO_NEW_PRIVS`` and a Landlock ruleset: read/execute only under the listed paths,
   write only to the scratch and run dirs, no TCP bind/connect, no signals to (or ptrace of)
   processes outside the sandbox;
3. a seccomp filter returning EACCES for ``socket(AF_INET|AF_INET6, ...)`` and ``io_uring_setup``
   (and, without bwrap's read-only mounts, making chmod/chown no-ops and refusing xattr writes);
4. ``ipykernel_launcher`` in this same process (no second interpreter start).

Without bwrap but with a cgroup, a forked watchdog kills the cgroup when the kernel dies.

It fails closed: if a requested layer cannot be applied, it writes the layer and the reason
(``{"layer": ..., "error": ...}``) to the config's ``error_file`` and exits with status 71
instead of starting an unconfined kernel.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import platform
import signal
import struct
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TypedDict

EXIT_CONFINEMENT_FAILED = 71


class LandlockRules(TypedDict, total=False):
    read: list[str]  # read and execute beneath these paths
    write: list[str]  # everything beneath these paths
    files: list[str]  # read and write these single files (devices)


class LauncherConfig(TypedDict, total=False):
    """What the launcher applies before it becomes ipykernel (JSON on its command line)."""

    error_file: str  # where the reason goes when a layer cannot be applied
    unset_env: list[str]
    rlimits: Mapping[str, Sequence[int]]  # resource name -> (soft, hard)
    watchdog: str  # the kernel's pids cgroup.procs file (cgroup layer without bwrap)
    landlock: LandlockRules
    seccomp: bool
    seccomp_metadata: bool  # also neutralise chmod/chown and xattr writes (no bwrap)


# -- Landlock (include/uapi/linux/landlock.h) ---------------------------------------------------
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # same on all arches
_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_TRUNCATE, FS_IOCTL_DEV = 1 << 14, 1 << 15
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_NET_TCP = (1 << 0) | (1 << 1)  # BIND_TCP | CONNECT_TCP, ABI >= 4
_SCOPES = (1 << 0) | (1 << 1)  # ABSTRACT_UNIX_SOCKET | SIGNAL, ABI >= 6
_PR_SET_NO_NEW_PRIVS = 38

# -- seccomp ------------------------------------------------------------------------------------
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
# machine -> (AUDIT_ARCH, socket nr, io_uring_setup nr, first x32 nr or None)
_ARCH = {
    "x86_64": (0xC000003E, 41, 425, 0x40000000),
    "aarch64": (0xC00000B7, 198, 425, None),
}
# Metadata calls Landlock does not mediate, for the fallback without read-only mounts:
# chmod/chown family (made no-ops: report success, change nothing) and xattr writes (EPERM).
_NOOP = {
    "x86_64": (90, 91, 92, 93, 94, 260, 268, 452),
    "aarch64": (52, 53, 54, 55, 452),
}
_XATTR_WRITE = {
    "x86_64": (188, 189, 190, 197, 198, 199),
    "aarch64": (5, 6, 7, 14, 15, 16),
}
_AF_INET, _AF_INET6 = 2, 10


class ConfinementError(RuntimeError):
    """A layer could not be applied (the launcher then refuses to start the kernel)."""


class LayerFailure(Exception):
    """``layer`` could not be applied; ``error`` says why."""

    def __init__(self, layer: str, error: BaseException) -> None:
        super().__init__(f"{layer}: {type(error).__name__}: {error}")
        self.layer = layer
        self.error = f"{type(error).__name__}: {error}"


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.prctl.restype = ctypes.c_int
    return libc


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise ConfinementError(f"{what} failed: {os.strerror(err)} (errno {err})")
    return result


def apply_rlimits(limits: Mapping[str, Sequence[int]]) -> None:
    import resource

    for name, (soft, hard) in limits.items():
        res = getattr(resource, name)
        _, cur_hard = resource.getrlimit(res)
        if cur_hard != resource.RLIM_INFINITY:  # never try to raise a hard limit
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        resource.setrlimit(res, (soft, hard))


def _no_new_privs(libc: ctypes.CDLL) -> None:
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def apply_landlock(cfg: LandlockRules) -> int:
    """Restrict this process (and its future children) to ``cfg``; returns the ABI used."""
    libc = _libc()
    abi = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi <= 0:
        raise ConfinementError("Landlock is not available in this kernel")
    fs_all = _FS_BY_ABI[max(k for k in _FS_BY_ABI if k <= abi)]
    if abi >= 6:
        attr = struct.pack("QQQ", fs_all, _NET_TCP, _SCOPES)
    elif abi >= 4:
        attr = struct.pack("QQ", fs_all, _NET_TCP)
    else:
        attr = struct.pack("Q", fs_all)
    buf = ctypes.create_string_buffer(attr, len(attr))
    fd = _check(
        libc.syscall(_SYS_CREATE_RULESET, buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0)),
        "landlock_create_ruleset",
    )
    read = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
    file_rw = (FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV) & fs_all
    try:
        # (paths, access, single files): a directory's rule covers everything beneath it
        rules = (
            (cfg.get("read", []), read, False),
            (cfg.get("write", []), fs_all, False),
            (cfg.get("files", []), file_rw, True),
        )
        for paths, access, files in rules:
            for path in paths:
                try:
                    pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue  # absent on this machine: nothing to allow
                try:
                    if not files and not os.path.isdir(path):
                        allowed = access & (FS_EXECUTE | FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE)
                    else:
                        allowed = access
                    rule = ctypes.create_string_buffer(struct.pack("=Qi", allowed, pfd), 12)
                    added = libc.syscall(_SYS_ADD_RULE, fd, _RULE_PATH_BENEATH, rule, 0)
                    _check(added, f"landlock_add_rule({path})")
                finally:
                    os.close(pfd)
        _no_new_privs(libc)
        _check(libc.syscall(_SYS_RESTRICT_SELF, fd, 0), "landlock_restrict_self")
    finally:
        os.close(fd)
    return int(abi)


def seccomp_program(machine: str, metadata: bool = False) -> bytes:
    """Classic BPF: allow everything but INET sockets, io_uring and foreign/x32 syscalls; with
    ``metadata`` also neutralise chmod/chown (no-op) and xattr writes (EPERM)."""
    arch, nr_socket, nr_uring, x32 = _ARCH[machine]
    deny = _RET_ERRNO | errno.EACCES
    ins: list[tuple[int, int, int, int]] = [
        (_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (_JEQ_K, 1, 0, arch),
        (_RET_K, 0, 0, deny),  # 32-bit compat entry (int 0x80) and other arches: refuse
        (_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if x32 is not None:
        ins += [(_JGE_K, 0, 1, x32), (_RET_K, 0, 0, deny)]
    rules = [(nr_uring, deny)]
    if metadata:
        rules += [(nr, _RET_ERRNO | 0) for nr in _NOOP[machine]]
        rules += [(nr, _RET_ERRNO | errno.EPERM) for nr in _XATTR_WRITE[machine]]
    for nr, ret in rules:
        ins += [(_JEQ_K, 0, 1, nr), (_RET_K, 0, 0, ret)]
    ins += [
        (_JEQ_K, 1, 0, nr_socket),
        (_RET_K, 0, 0, _RET_ALLOW),
        (_LD_W_ABS, 0, 0, 16),  # low 32 bits of args[0]: the address family
        (_JEQ_K, 2, 0, _AF_INET),
        (_JEQ_K, 1, 0, _AF_INET6),
        (_RET_K, 0, 0, _RET_ALLOW),
        (_RET_K, 0, 0, deny),
    ]
    return b"".join(struct.pack("HBBI", *i) for i in ins)


def apply_seccomp(metadata: bool = False) -> None:
    machine = platform.machine()
    if machine not in _ARCH:
        raise ConfinementError(f"no seccomp filter for {machine}")
    libc = _libc()
    code = seccomp_program(machine, metadata)
    filt = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

    prog = SockFprog(len(code) // 8, ctypes.cast(filt, ctypes.c_void_p))
    _no_new_privs(libc)
    _check(libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0), "seccomp filter")


def _kill_cgroup(procs_file: str) -> None:
    me = os.getpid()
    for _ in range(100):
        try:
            with open(procs_file) as f:
                pids = [int(p) for p in f.read().split() if int(p) != me]
        except (OSError, ValueError):
            return
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def start_watchdog(procs_file: str) -> None:
    """Without a pid namespace, a daemon started by generated code would outlive a kernel whose
    agent was SIGKILLed (nobody runs the cgroup cleanup). This forked child, outside Landlock
    and idle, waits for the kernel to exit and then kills what is left in its cgroup.

    WHY a pidfd and not PR_SET_PDEATHSIG: the death signal is sent with the dying kernel's
    credentials, and Landlock's signal scope then refuses it to a process outside the sandbox.
    """
    import select
    import time

    parent = os.getpid()
    if os.fork() != 0:
        return
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts go to the whole group
        os.closerange(3, 65536)
        try:
            fd = os.pidfd_open(parent)
        except (AttributeError, OSError):  # Linux < 5.3: poll instead
            while os.getppid() == parent:
                time.sleep(0.5)
        else:
            select.select([fd], [], [])
        _kill_cgroup(procs_file)
    finally:
        os._exit(0)


@contextlib.contextmanager
def _layer(name: str) -> Iterator[None]:
    """Name the layer in any error raised while applying it."""
    try:
        yield
    except Exception as e:
        raise LayerFailure(name, e) from e


def confine(cfg: LauncherConfig) -> None:
    """Apply every layer ``cfg`` asks for, in order; raises LayerFailure naming the first that fails."""
    for name in cfg.get("unset_env", []):
        os.environ.pop(name, None)
    if cfg.get("rlimits"):
        with _layer("rlimits"):
            apply_rlimits(cfg["rlimits"])
    if cfg.get("watchdog"):
        with _layer("cgroup"):
            start_watchdog(cfg["watchdog"])
    if cfg.get("landlock"):
        with _layer("landlock"):
            apply_landlock(cfg["landlock"])
    if cfg.get("seccomp"):
        with _layer("seccomp"):
            apply_seccomp(bool(cfg.get("seccomp_metadata")))


def main(argv: list[str]) -> None:
    cfg: LauncherConfig = json.loads(argv[1])
    try:
        confine(cfg)
    except Exception as e:
        failure = e if isinstance(e, LayerFailure) else LayerFailure("launcher", e)
        try:
            with open(cfg["error_file"], "w") as f:
                json.dump({"layer": failure.layer, "error": failure.error}, f)
        except (OSError, KeyError):
            pass
        os._exit(EXIT_CONFINEMENT_FAILED)
    # Become `python -m ipykernel_launcher ARGS`: cwd first on sys.path, not this file's dir.
    sys.path[0] = os.getcwd()
    sys.argv = ["ipykernel_launcher", *argv[2:]]
    import runpy

    runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv)
