"""A cgroup v1 ``memory`` + ``pids`` pair for one sandbox kernel, and its kill switch.

WHY v1 only: on these machines the v1 controllers are mounted and writable by root, and v2
has no delegation to our user; on a v2-only machine the layer reports itself unavailable.
The kernel joins the cgroup before bubblewrap starts (a tiny ``sh`` prefix writes its own
pid, then execs), so nothing it forks can be outside it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

from .isolation import CGROUP_PARENT, CGROUP_V1

# sh -c JOIN smallcode-cgroup PROCS_FILE... -- COMMAND...
JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 70; shift; done; shift; exec "$@"'


class Cgroup:
    """``/sys/fs/cgroup/{memory,pids}/smallcode/<id>`` with the given ceilings."""

    def __init__(self, memory: int, pids: int) -> None:
        sweep_stale()
        self.name = f"kernel-{os.getpid()}-{uuid.uuid4().hex[:10]}"
        self.dirs = [CGROUP_V1 / ctl / CGROUP_PARENT / self.name for ctl in ("memory", "pids")]
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

    def wrap(self, cmd: list[str]) -> list[str]:
        return [
            "/bin/sh",
            "-c",
            JOIN,
            "smallcode-cgroup",
            *(str(d / "cgroup.procs") for d in self.dirs),
            "--",
            *cmd,
        ]

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.dirs[1] / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def stats(self) -> dict[str, int]:
        out = {}
        for key, path in (("memory_max_usage", self.dirs[0] / "memory.max_usage_in_bytes"),
                          ("memory_failcnt", self.dirs[0] / "memory.failcnt"),
                          ("pids_current", self.dirs[1] / "pids.current")):  # fmt: skip
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


def sweep_stale() -> None:
    """Kill what is left in cgroups of smallcode processes that died without cleaning up
    (e.g. SIGKILL), and remove those cgroups."""
    for ctl in ("memory", "pids"):
        parent = CGROUP_V1 / ctl / CGROUP_PARENT
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in names:
            parts = name.split("-")
            if len(parts) != 3 or parts[0] != "kernel" or not parts[1].isdigit():
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
