"""The current kernel plus one warm spare.

WHY: a kernel takes about half a second of CPU to start (more on a busy machine). Tasks must
not share state, so every task gets a fresh kernel; keeping the next one already started makes
``reset()`` a swap. Starts and shutdowns run on one background worker, so at most one kernel
boots at a time (the machine may have two cores and a model generating on them).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from .errors import SandboxError
from .kernel import SandboxKernel

log = logging.getLogger(__name__)


class KernelPool:
    """Owns every kernel a Sandbox starts; ``close()`` leaves no process behind.

    Not thread-safe by itself: the Sandbox serialises calls with its lock.
    """

    def __init__(self, start_kernel: Callable[[], SandboxKernel], warm_spare: bool = True) -> None:
        self._start_kernel = start_kernel
        self._warm_spare = warm_spare
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smallcode-sandbox")
        self._current: SandboxKernel | None = None
        self._spare: Future[SandboxKernel | None] | None = None
        self._closed = False
        self._close_lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    def current(self) -> SandboxKernel:
        """The kernel to run in: the live current one, else the spare, else a cold start."""
        if self._closed:
            raise SandboxError("the sandbox is closed")
        if self._current is not None and not self._current.is_alive():
            self.discard()  # died between runs (e.g. a thread called os._exit)
        if self._current is None:
            self._current = self._take_spare() or self._start_on_worker()
            self._schedule_spare()
        return self._current

    def wait_for_spare(self, timeout: float | None = None) -> bool:
        """Block until the warm spare has booted; False if there is none or it failed."""
        spare = self._spare
        if spare is None:
            return False
        try:
            return spare.result(timeout) is not None
        except Exception:
            return False

    def discard(self) -> None:
        """Drop the current kernel; it is shut down in the background."""
        kernel, self._current = self._current, None
        if kernel is not None:
            self._retire(kernel)

    def close(self) -> None:
        """Shut everything down and wait for it. Idempotent; safe from atexit."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        kernel, self._current = self._current, None
        if kernel is not None:
            kernel.shutdown()
        self._worker.shutdown(wait=True)  # pending shutdowns run; a pending spare start is skipped
        spare, self._spare = self._spare, None
        if spare is not None and not spare.cancelled() and spare.exception() is None:
            leftover = spare.result()
            if leftover is not None:
                leftover.shutdown()

    # -- internals -------------------------------------------------------------------------

    def _take_spare(self) -> SandboxKernel | None:
        spare = self._spare
        if spare is None:
            return None
        try:
            kernel = spare.result()  # a Ctrl-C here leaves the spare owned by the pool
        except Exception:
            log.warning("warm spare kernel failed to start; starting one now", exc_info=True)
            kernel = None
        self._spare = None
        if kernel is not None and not kernel.is_alive():
            self._retire(kernel)
            return None
        return kernel

    def _start_on_worker(self) -> SandboxKernel:
        """A cold start, done on the pool's long-lived worker thread.

        WHY: bwrap --die-with-parent uses PR_SET_PDEATHSIG, which fires when the *thread* that
        started it exits; a caller's short-lived thread would take the kernel down with it.
        """
        try:
            future = self._worker.submit(self._start_kernel)
        except RuntimeError:  # interpreter shutting down
            return self._start_kernel()
        try:
            return future.result()
        except BaseException as exc:
            if not isinstance(exc, Exception):  # Ctrl-C: the start finishes without us
                future.add_done_callback(_shutdown_result)
            raise

    def _schedule_spare(self) -> None:
        if not self._warm_spare or self._closed or self._spare is not None:
            return
        try:
            self._spare = self._worker.submit(self._boot_spare)
        except RuntimeError:  # interpreter shutting down: no more background work
            self._spare = None

    def _boot_spare(self) -> SandboxKernel | None:
        if self._closed:
            return None
        kernel = self._start_kernel()
        if self._closed:  # close() raced with us: nobody will take this one
            kernel.shutdown()
            return None
        return kernel

    def _retire(self, kernel: SandboxKernel) -> None:
        kernel.signal(signal.SIGKILL)  # stop it burning CPU now; cleanup follows on the worker
        try:
            self._worker.submit(kernel.shutdown)
        except RuntimeError:
            kernel.shutdown()


def _shutdown_result(future: Future[SandboxKernel]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().shutdown()
