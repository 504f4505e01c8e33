"""A cgroup v1 ``memory`` + ``pids`` pair for one sandbox kernel, its kill switch, and the probe
that tells whether this user can have one.

WHY v1 only: on these machines the v1 controllers are mounted and writable by root, and v2
has no delegation to our user; on a v2-only machine the layer reports itself unavailable.
The kernel joins the cgroup before bubblewrap starts (a tiny ``sh`` prefix writes its own
pid, then execs), so nothing it forks can be outside it.

WHY the probe creates and removes a child: once root has used smallcode on a machine, the
shared parent ``/sys/fs/cgroup/{memory,pids}/smallcode`` exists (owned by root), so an ordinary
user can "create" it with ``exist_ok`` but cannot create a kernel's cgroup inside it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import uuid
from pathlib import Path

CGROUP_V1 = Path("/sys/fs/cgroup")
CGROUP_PARENT = "smallcode"
CONTROLLERS = ("memory", "pids")
# Name prefixes of our cgroups: a kernel's, and the probe's (removed at once).
KERNEL, PROBE = "kernel", "probe"

# sh -c JOIN smallcode-cgroup PROCS_FILE... -- COMMAND...
JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 70; shift; done; shift; exec "$@"'
EXIT_JOIN_FAILED = 70  # the sh prefix could not write its pid into a cgroup.procs file


class Cgroup:
    """``/sys/fs/cgroup/{memory,pids}/smallcode/<kind>-<pid>-<id>`` with the given ceilings.

    Raises OSError (with the path that failed) when the cgroups cannot be created or limited;
    nothing is left behind then.
    """

    def __init__(self, memory: int, pids: int, kind: str = KERNEL) -> None:
        sweep_stale()
        self.name = f"{kind}-{os.getpid()}-{uuid.uuid4().hex[:10]}"
        self.dirs = [CGROUP_V1 / ctl / CGROUP_PARENT / self.name for ctl in CONTROLLERS]
        made: list[Path] = []
        try:
            for d in self.dirs:
                d.mkdir(parents=True)
                made.append(d)
            mem = self.dirs[0]
            (mem / "memory.limit_in_bytes").write_text(str(memory))
            if (mem / "memory.memsw.limit_in_bytes").exists():  # swap accounting on
                with contextlib.suppress(OSError):
                    (mem / "memory.memsw.limit_in_bytes").write_text(str(memory))
            (self.dirs[1] / "pids.max").write_text(str(pids))
        except OSError:
            for d in reversed(made):
                with contextlib.suppress(OSError):
                    d.rmdir()
            raise

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def wrap(self, cmd: list[str]) -> list[str]:
        """``cmd`` behind the sh prefix that joins both cgroups first (exit 70 if it cannot)."""
        return ["/bin/sh", "-c", JOIN, "smallcode-cgroup", *self.procs_files, "--", *cmd]

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.dirs[1] / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def stats(self) -> dict[str, int]:
        out: dict[str, int] = {}
        files = {
            "memory_max_usage": self.dirs[0] / "memory.max_usage_in_bytes",
            "memory_failcnt": self.dirs[0] / "memory.failcnt",
            "pids_current": self.dirs[1] / "pids.current",
        }
        for key, path in files.items():
            with contextlib.suppress(OSError, ValueError):
                out[key] = int(path.read_text())
        return out

    def destroy(self, timeout: float = 2.0) -> None:
        """SIGKILL everything still in the cgroup (daemons that escaped the process group
        included), then remove it. Idempotent, never raises."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if not pids or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while the last task is being reaped
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)


def probe() -> tuple[bool, str]:
    """Whether this process can give a kernel its own cgroups, and the detail or the reason.

    Creates a child cgroup (with limits) under the shared parent and removes it again: the
    same steps a kernel start takes, so a user who cannot start one is told so here.
    """
    if sys.platform != "linux":
        return False, "Linux only"
    missing = [ctl for ctl in CONTROLLERS if not (CGROUP_V1 / ctl / "cgroup.procs").exists()]
    if missing:
        if (CGROUP_V1 / "cgroup.controllers").exists():
            return False, "cgroup v2 only; delegation to this user is not used by smallcode"
        return False, f"no cgroup v1 {'/'.join(missing)} controller mounted under {CGROUP_V1}"
    try:
        Cgroup(memory=2**30, pids=64, kind=PROBE).destroy()
    except OSError as e:
        where = f" in {os.path.dirname(e.filename)}" if e.filename else ""
        return False, f"cgroup v1 not writable by this user: cannot create a cgroup{where} ({e.strerror})"
    return True, f"v1 memory+pids under {CGROUP_V1}/{{memory,pids}}/{CGROUP_PARENT}"


def sweep_stale() -> None:
    """Kill what is left in cgroups of smallcode processes that died without cleaning up
    (e.g. SIGKILL), and remove those cgroups."""
    for ctl in CONTROLLERS:
        parent = CGROUP_V1 / ctl / CGROUP_PARENT
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in names:
            parts = name.split("-")
            if len(parts) != 3 or parts[0] not in (KERNEL, PROBE) or not parts[1].isdigit():
                continue
            if _pid_alive(int(parts[1])):
                continue
            with contextlib.suppress(OSError, ValueError):
                for pid in (parent / name / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        os.kill(int(pid), signal.SIGKILL)
            with contextlib.suppress(OSError):  # EBUSY: tasks still being reaped; next time
                (parent / name).rmdir()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
