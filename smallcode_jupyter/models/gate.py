"""One llama.cpp generation at a time among the user's processes on this machine.

llama.cpp runs one thread per physical core and its threads spin: two processes generating at once
on the same cores both crawl (measured here: two kernels on 2 cores made no progress for 6
minutes). So every in-process generation (and ``smallcode serve``'s) first takes an exclusive
``flock`` on a file in the user's runtime folder; whoever comes second waits in the queue, is
told so once (``on_wait``), and goes on as soon as the first finishes. The lock is released by the
kernel when its holder dies, so a crashed process never blocks the others. Where ``fcntl`` does not
exist (Windows) or ``$SMALLCODE_MODEL_GATE`` is ``0`` there is no gate.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def runtime_dir() -> Path:
    """A folder only the user can open: ``$XDG_RUNTIME_DIR/smallcode``, else under the cache."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "smallcode" if runtime else Path.home() / ".cache" / "smallcode" / "run"
    with contextlib.suppress(OSError):  # unwritable: the caller's open or bind says so
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
    return base


def gate_path() -> Path | None:
    """The lock file, or None when the gate is off."""
    if os.environ.get("SMALLCODE_MODEL_GATE", "1") == "0":
        return None
    env = os.environ.get("SMALLCODE_MODEL_GATE_FILE")
    return Path(env) if env else runtime_dir() / "llama.lock"


class Stopped(Exception):
    """Waiting for the gate was cancelled."""


@contextlib.contextmanager
def hold(
    on_wait: Callable[[], None] | None = None,
    cancel: threading.Event | None = None,
    poll: float = 0.05,
) -> Iterator[bool]:
    """Hold the machine-wide model gate for the body; yields whether there was a wait.

    Raises :class:`Stopped` when ``cancel`` is set while waiting.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no gate
        yield False
        return
    try:
        path = gate_path()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path is not None else -1
    except OSError:  # an unwritable runtime folder must not stop generation
        fd = -1
    if fd < 0:
        yield False
        return
    waited = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
                if cancel is not None and cancel.is_set():
                    raise Stopped("stopped while waiting for the model") from None
                time.sleep(poll)
        try:
            yield waited
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
