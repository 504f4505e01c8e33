"""``Sandbox``: run generated code in a throwaway kernel, with time limits and recovery.

WHY a separate kernel: generated code may loop forever, crash the interpreter, print
gigabytes or clobber globals; none of that may reach the user's kernel or this process.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from . import isolation
from .errors import LayerError
from .isolation import Limits, Policy
from .kernel import DEADLINE, DIED, DONE, STOPPED, Execution, SandboxKernel
from .output import OutputCollector
from .pool import KernelPool
from .result import RunResult

log = logging.getLogger(__name__)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "the kernel process went away"
    if code < 0:
        try:
            return f"the kernel process was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"the kernel process was killed by signal {-code}"
    if code > 128:  # bubblewrap passes on a killed kernel as 128 + signal
        with contextlib.suppress(ValueError):
            return f"the kernel process was killed by {signal.Signals(code - 128).name} (exit code {code})"
    return f"the kernel process exited with code {code}"


def _result(
    outcome: str,
    execution: Execution,
    collector: OutputCollector,
    seconds: float,
    limit: float,
    restarted: bool,
    exit_code: int | None,
) -> RunResult:
    """Build the RunResult; for timeouts and cancels keep the kernel's KeyboardInterrupt
    traceback (it shows where the code was stuck) under a clearer error name."""
    reply = execution.reply or {}
    status = reply.get("status")
    if outcome == DONE and status == "error" and collector.error_name is None:
        collector.set_error(reply)  # the IOPub 'error' message was lost
    result = RunResult(
        ok=outcome == DONE and status == "ok" and collector.error_name is None,
        stdout=collector.text,
        error_name=collector.error_name,
        error_value=collector.error_value,
        traceback=collector.traceback,
        timed_out=outcome == DEADLINE,
        died=outcome == DIED,
        restarted=restarted,
        cancelled=outcome == STOPPED,
        seconds=seconds,
        truncated=collector.truncated,
    )
    note = "; the kernel ignored the interrupt and was restarted" if restarted else ""
    if outcome == DEADLINE:
        result.error_name = "TimeoutError"
        result.error_value = f"execution exceeded the {limit:g} s time limit{note}"
    elif outcome == STOPPED:
        result.error_name = "Cancelled"
        result.error_value = f"execution was cancelled{note}"
    elif outcome == DIED:
        result.error_name = "KernelDied"
        result.error_value = (
            f"{_describe_exit(exit_code)} while running this code; "
            "all state was lost and a fresh kernel will be used"
        )
    elif not result.ok and result.error_name is None:
        result.error_name = "ExecutionAborted"
        result.error_value = f"the kernel replied with status {status!r}"
    return result


def _start_kernel(
    policy: Policy, allow_unisolated: bool, startup_timeout: float, max_output: int
) -> SandboxKernel:
    """Start a kernel under ``policy``. A layer that fails at the start (e.g. a cgroup this user
    cannot create) is dropped with a note and the start repeated without it, unless no isolation
    would be left; then the LayerError naming the layer and its cause is raised."""
    while True:
        try:
            return SandboxKernel.start(startup_timeout, policy, max_output)
        except LayerError as e:
            rest = [name for name in policy.layers if name != e.layer]
            if e.layer not in policy.layers or not (isolation.is_isolated(rest) or allow_unisolated):
                raise
            policy.drop(e.layer, e.reason)
            log.warning("%s; continuing with %s", policy.notes[-1], ", ".join(rest) or "no layer")


class Sandbox:
    """Runs code in a throwaway IPython kernel started from ``sys.executable``.

    >>> with Sandbox(timeout=10) as sb:
    ...     r = sb.run("print(1 + 1)")
    ...     sb.reset()  # next task starts from a fresh kernel

    ``run`` and ``reset`` may be called from any one thread at a time (a lock serialises
    them); ``cancel`` may be called from any thread while a run is in progress.

    Confinement (docs/security.md): every available layer of ``isolation.LAYERS`` is used
    unless ``layers`` (or $SMALLCODE_SANDBOX_LAYERS) names fewer. ``project`` is bound
    read-only at its real path; ``writable`` directories (none by default) read-write, for
    output the user explicitly lets generated code produce. Without bwrap or Landlock the
    constructor raises SandboxError unless ``allow_unisolated=True`` (or
    $SMALLCODE_ALLOW_UNISOLATED=1): the user must know that generated code would then run
    with their permissions. ``memory_limit`` (bytes) or ``limits`` set the resource ceilings.
    A layer that fails when a kernel starts is dropped (``notes`` says which and why) as long
    as isolation remains.
    """

    def __init__(
        self,
        timeout: float = 10.0,
        *,
        project: str | os.PathLike[str] | None = None,
        writable: Iterable[str | os.PathLike[str]] = (),
        max_output: int = 1_000_000,
        interrupt_grace: float = 1.5,
        startup_timeout: float = 60.0,
        warm_spare: bool = True,
        memory_limit: int | None = None,
        limits: Limits | None = None,
        layers: Iterable[str] | None = None,
        allow_unisolated: bool | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = float(timeout)
        self.max_output = int(max_output)
        self.interrupt_grace = float(interrupt_grace)
        self.startup_timeout = float(startup_timeout)
        limits = limits or Limits()
        if memory_limit is not None:
            limits = replace(limits, memory=int(memory_limit))
        writable = list(writable)
        for path in [project, *writable]:
            if path is not None and not Path(path).is_dir():
                raise ValueError(f"{path!r} is not a directory")
        active = isolation.active_layers(layers)
        if allow_unisolated is None:
            allow_unisolated = os.environ.get(isolation.ENV_ALLOW_UNISOLATED, "") not in ("", "0")
        if not isolation.is_isolated(active) and not allow_unisolated:
            raise isolation.unisolated_error(active)
        self.policy = Policy(
            active,
            limits,
            os.path.realpath(project) if project is not None else None,
            tuple(os.path.realpath(p) for p in writable),
        )
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        # The pool must not refer back to self, or the finalizer would keep self alive.
        start = functools.partial(
            _start_kernel, self.policy, allow_unisolated, self.startup_timeout, self.max_output
        )
        self._pool = KernelPool(start, warm_spare=warm_spare)
        # Runs on close(), on garbage collection, or at interpreter exit, whichever is first.
        self._finalizer = weakref.finalize(self, self._pool.close)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Start the kernel now (and its warm spare in the background). Optional: run() starts
        one lazily. Raises SandboxError if no kernel can be started."""
        with self._lock:
            self._pool.current()
        return self

    def close(self) -> None:
        """Stop any run, shut every kernel down and wait for it. Idempotent."""
        self._cancel.set()
        with self._lock:
            self._finalizer()

    @property
    def layers(self) -> list[str]:
        """The isolation layers this sandbox's kernels run under."""
        return list(self.policy.layers)

    @property
    def notes(self) -> list[str]:
        """Layers dropped because they failed when a kernel started, and why (else empty)."""
        return list(self.policy.notes)

    @property
    def project(self) -> str | None:
        return self.policy.project

    @property
    def closed(self) -> bool:
        return self._pool.closed

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def reset(self) -> None:
        """Fresh state for the next task: swap in the warm spare, retire the old kernel in the
        background, and start the next spare."""
        with self._lock:
            self._pool.discard()
            self._pool.current()

    def wait_for_spare(self, timeout: float | None = None) -> bool:
        """Block until the warm spare kernel is ready, so the next reset() is a pure swap.
        Returns False if there is no spare (not started, warm_spare=False, or it failed)."""
        return self._pool.wait_for_spare(timeout)

    def cancel(self) -> None:
        """Interrupt the current run (from any thread). The run returns with cancelled=True;
        a kernel that ignores the interrupt is replaced after ``interrupt_grace`` seconds.
        A cancel with no run in progress is ignored."""
        self._cancel.set()

    # -- files in ----------------------------------------------------------------------------------

    def put_file(self, name: str, data: bytes) -> str:
        """Write ``data`` to a file only the current kernel can see (its private run directory,
        mode 0700) and return the file's path as the kernel sees it.

        One way in: the kernel reads the file, nothing reads back through it. The file goes
        with the kernel (``reset`` or a restart removes it); a kernel that is replaced before it
        reads the file never sees it, so call this right before the ``run`` that reads it.
        Raises OSError (e.g. a full disk) with nothing left behind.
        """
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"not a plain file name: {name!r}")
        with self._lock:
            kernel = self._pool.current()
            folder = kernel.rundir or kernel.workdir
            path = os.path.join(folder, name)
            part = path + ".part"
            try:
                fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(part, path)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(part)
                raise
            return path

    # -- running -------------------------------------------------------------------------------

    def run(self, code: str, timeout: float | None = None) -> RunResult:
        """Execute ``code`` in the current kernel; never raises for errors in the code.

        ``timeout`` overrides the sandbox's wall-clock limit for this call. Raises
        KeyboardInterrupt (after interrupting the sandbox kernel) if the calling thread is
        interrupted, and SandboxError if no kernel can be started.
        """
        limit = self.timeout if timeout is None else float(timeout)
        with self._lock:
            self._cancel.clear()
            kernel = self._pool.current()
            collector = OutputCollector(self.max_output)
            started = time.monotonic()
            execution: Execution | None = None
            try:
                execution = kernel.send(code)
                outcome = kernel.wait(execution, collector, started + limit, stop=self._cancel.is_set)
            except KeyboardInterrupt:
                if execution is None:
                    self._pool.discard()  # the request may be queued with nobody waiting
                else:
                    self._recover(kernel, execution, collector)
                raise
            exit_code = kernel.exit_code()
            if outcome == DIED:
                self._pool.discard()
                restarted = True
            else:
                restarted = outcome != DONE and self._recover(kernel, execution, collector) != DONE
            return _result(
                outcome, execution, collector, time.monotonic() - started, limit, restarted, exit_code
            )

    def _recover(self, kernel: SandboxKernel, execution: Execution, collector: OutputCollector) -> str:
        """Interrupt a run that must stop; replace the kernel if it does not come back."""
        outcome = DIED
        try:
            kernel.interrupt()
            outcome = kernel.wait(execution, collector, time.monotonic() + self.interrupt_grace)
        finally:
            if outcome != DONE:
                self._pool.discard()
        return outcome
