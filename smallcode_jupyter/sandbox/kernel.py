"""One throwaway IPython kernel process: start, execute with a deadline, interrupt, shut down.

WHY not ``KernelClient.execute_interactive``: it blocks in a single poll until its timeout,
so it cannot notice that the kernel died (``os._exit``, segfault) or that the user pressed
Stop, and through jupyter_core's ``run_sync`` it hops to a private thread whenever an event
loop is running -- which is always the case inside a notebook cell -- so a KeyboardInterrupt
would leave that thread polling. ``SandboxKernel.wait`` keeps the same contract
(``store_history=False``, ``allow_stdin=False``, output goes only to our collector and is never
re-published into the caller's notebook) with a short synchronous poll on the caller's thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from queue import Empty
from typing import Any

import zmq
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import KernelManager

from .errors import SandboxError

log = logging.getLogger(__name__)

POLL_MS = 100  # granularity for noticing a deadline, a cancel, a dead kernel or Ctrl-C
IDLE_AFTER_REPLY = 1.0  # s to wait for the final 'idle' status once the reply is in

# Run silently once per kernel: plain, uncoloured tracebacks (we still strip ANSI later).
_CONFIGURE = """\
def _smallcode_configure():
    import contextlib, io
    from IPython import get_ipython
    ip = get_ipython()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for magic, arg in (("xmode", "Plain"), ("colors", "nocolor")):
            try:
                ip.run_line_magic(magic, arg)
            except Exception:
                pass
_smallcode_configure()
del _smallcode_configure
"""


def sandbox_kernel_spec() -> KernelSpec:
    """A kernelspec for *this* interpreter, never looked up by name.

    WHY: the installed "python3" spec may point at another interpreter (or a conda env)
    that lacks the packages the user's notebook has.
    """
    return KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="smallcode sandbox",
        language="python",
        interrupt_mode="signal",
    )


def kernel_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a sandbox kernel: the caller's, minus Jupyter's JPY_* variables.

    WHY: inside a notebook those describe the *user's* kernel (JPY_PARENT_PID is the Jupyter
    server, JPY_SESSION_NAME the notebook). jupyter_client then sets JPY_PARENT_PID to our
    own pid, so the sandbox kernel exits by itself if this process dies.
    """
    env = dict(os.environ if base is None else base)
    for key in [k for k in env if k.startswith(("JPY_", "IPY_INTERRUPT_EVENT"))]:
        del env[key]
    return env


class SandboxKernelManager(KernelManager):
    """KernelManager with an in-memory kernelspec and a hook on the launch command."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_name", "smallcode-sandbox")
        super().__init__(**kwargs)
        self._sandbox_spec = sandbox_kernel_spec()

    @property
    def kernel_spec(self) -> KernelSpec:
        return self._sandbox_spec

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        # jupyter_client 8 has no kernel_cmd setting: this is the one place to wrap the command.
        return self.wrap_command(super().format_kernel_cmd(extra_arguments))

    def wrap_command(self, cmd: list[str]) -> list[str]:
        """HARDENING HOOK: return the command that launches the kernel.

        Unchanged for now. A later issue wraps it here (bubblewrap, rlimits via prlimit, ...).
        The result must still run ``cmd`` and keep the kernel the leader of its process group
        (interrupts and kills are sent to the group).
        """
        return cmd


@dataclass
class Execution:
    """Bookkeeping for one execute_request; survives across several ``wait`` calls."""

    msg_id: str
    reply: dict[str, Any] | None = None
    idle: bool = False
    reply_at: float = 0.0

    @property
    def done(self) -> bool:
        return self.reply is not None and (self.idle or time.monotonic() - self.reply_at > IDLE_AFTER_REPLY)


# Outcomes of SandboxKernel.wait
DONE, DEADLINE, STOPPED, DIED = "done", "deadline", "stopped", "died"


class SandboxKernel:
    """A running kernel, its client and its private working directory."""

    def __init__(self, manager: SandboxKernelManager, workdir: str) -> None:
        self.manager = manager
        self.workdir = workdir
        self.client: BlockingKernelClient | None = None
        self._poller: zmq.Poller | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def start(cls, startup_timeout: float = 60.0) -> SandboxKernel:
        """Launch, wait until it answers, configure it. Raises SandboxError on failure."""
        workdir = tempfile.mkdtemp(prefix="smallcode-sandbox-")
        kernel = cls(SandboxKernelManager(), workdir)
        try:
            kernel.manager.start_kernel(
                cwd=workdir,
                env=kernel_env(),
                stdin=subprocess.DEVNULL,
                # ipykernel echoes fd-level output (C extensions, subprocesses) to its own
                # stdout/stderr; in a notebook server those would land in the server log.
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            client = kernel.manager.client()
            client.start_channels(hb=False)  # liveness comes from the process itself
            kernel.client = client
            kernel._poller = zmq.Poller()
            kernel._poller.register(client.iopub_channel.socket, zmq.POLLIN)
            kernel._poller.register(client.shell_channel.socket, zmq.POLLIN)
            kernel._wait_ready(time.monotonic() + startup_timeout)
            kernel._configure(time.monotonic() + startup_timeout)
        except BaseException as exc:  # including Ctrl-C: never leave a half-started kernel
            kernel.shutdown()
            if isinstance(exc, SandboxError) or not isinstance(exc, Exception):
                raise
            raise SandboxError(
                f"cannot start a sandbox kernel with {sys.executable} -m ipykernel_launcher: "
                f"{type(exc).__name__}: {exc}. Is ipykernel installed in this environment?"
            ) from exc
        return kernel

    def _wait_ready(self, deadline: float) -> None:
        """Like ``wait_for_ready`` but synchronous: kernel_info answered and IOPub connected."""
        assert self.client is not None
        while True:
            self.client.kernel_info()
            try:
                msg = self.client.shell_channel.get_msg(timeout=0.5)
            except Empty:
                msg = None
            if msg is not None and msg["msg_type"] == "kernel_info_reply":
                try:  # IOPub is subscribed once the kernel's busy/idle reaches us
                    self.client.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    pass
                else:
                    break
            if not self.is_alive():
                raise SandboxError(
                    f"sandbox kernel exited during startup (exit code {self.exit_code()}); "
                    f"try `{sys.executable} -m ipykernel_launcher --help` to see why"
                )
            if time.monotonic() > deadline:
                raise SandboxError("sandbox kernel did not answer within the startup timeout")
        with contextlib.suppress(Empty):  # drop the rest of the startup chatter
            while True:
                self.client.iopub_channel.get_msg(timeout=0.05)

    def _configure(self, deadline: float) -> None:
        from .output import OutputCollector

        execution = self.send(_CONFIGURE, silent=True)
        if self.wait(execution, OutputCollector(0), deadline) != DONE:
            raise SandboxError("sandbox kernel did not finish its configuration")

    def shutdown(self) -> None:
        """Kill the kernel's process group, close sockets, remove the workdir. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.stop_channels()
        try:
            if self.manager.has_kernel:
                self.manager.shutdown_kernel(now=True)  # SIGKILL to the group, then reap
        except Exception:
            log.debug("sandbox kernel shutdown failed; killing directly", exc_info=True)
            self.signal(signal.SIGKILL)
            with contextlib.suppress(Exception):
                self.manager.cleanup_resources()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- process -----------------------------------------------------------------------------

    @property
    def _process(self) -> subprocess.Popen[bytes] | None:
        return getattr(self.manager.provisioner, "process", None)

    @property
    def pid(self) -> int | None:
        proc = self._process
        return proc.pid if proc is not None else None

    def is_alive(self) -> bool:
        proc = self._process
        return proc is not None and proc.poll() is None

    def exit_code(self) -> int | None:
        proc = self._process
        return proc.poll() if proc is not None else None

    def signal(self, signum: int) -> None:
        """Signal the kernel's process group directly: thread-safe, needs no event loop."""
        pid = self.pid
        if pid is None or not self.is_alive():
            return
        with contextlib.suppress(OSError):
            os.killpg(os.getpgid(pid), signum)

    def interrupt(self) -> None:
        self.signal(signal.SIGINT)

    # -- execution ---------------------------------------------------------------------------

    def send(self, code: str, *, silent: bool = False) -> Execution:
        assert self.client is not None
        msg_id = self.client.execute(
            code, silent=silent, store_history=False, allow_stdin=False, stop_on_error=False
        )
        return Execution(msg_id)

    def wait(
        self,
        execution: Execution,
        collector: Any,
        deadline: float,
        stop: Callable[[], bool] | None = None,
    ) -> str:
        """Pump messages of ``execution`` into ``collector`` until it is done.

        Returns DONE, DEADLINE (time is up), STOPPED (``stop()`` became true) or DIED.
        A KeyboardInterrupt from the caller's thread propagates (checked every POLL_MS).
        """
        assert self.client is not None and self._poller is not None
        iopub, shell = self.client.iopub_channel, self.client.shell_channel
        while not execution.done:
            now = time.monotonic()
            if now >= deadline:
                return DEADLINE
            if stop is not None and stop():
                return STOPPED
            if not self.is_alive():
                self._drain(execution, collector)
                return DIED
            events = dict(self._poller.poll(min(POLL_MS, max(1, int((deadline - now) * 1000)))))
            if iopub.socket in events:
                for msg in self._available(iopub):
                    if msg["parent_header"].get("msg_id") != execution.msg_id:
                        continue  # stale output of an earlier, interrupted execution
                    if msg["msg_type"] == "status":
                        execution.idle = msg["content"].get("execution_state") == "idle"
                    else:
                        collector.handle(msg)
            if shell.socket in events:
                for msg in self._available(shell):
                    if (
                        msg["parent_header"].get("msg_id") == execution.msg_id
                        and msg["msg_type"] == "execute_reply"
                    ):
                        execution.reply = msg["content"]
                        execution.reply_at = time.monotonic()
        return DONE

    def _drain(self, execution: Execution, collector: Any) -> None:
        """Keep what a dying kernel managed to send before it went."""
        assert self.client is not None
        for msg in self._available(self.client.iopub_channel):
            if msg["parent_header"].get("msg_id") == execution.msg_id:
                collector.handle(msg)

    @staticmethod
    def _available(channel: Any, limit: int = 200) -> Iterator[dict[str, Any]]:
        """Messages already queued on ``channel``, one at a time (a flood is never buffered
        by us), at most ``limit`` per call so deadlines stay responsive."""
        for _ in range(limit):
            try:
                yield channel.get_msg(timeout=0)
            except Empty:
                return
