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
import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from queue import Empty
from typing import Any

import zmq
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import KernelManager

from .cgroup import EXIT_JOIN_FAILED, Cgroup
from .command import kernel_command, sandbox_env
from .errors import LayerError, SandboxError
from .inkernel import configure as in_kernel_configure
from .inkernel import source_call
from .isolation import LAYERS, MiB, Policy
from .output import DROPPED_MARK, OutputCollector

CGROUP_SLACK = 256 * MiB  # above Limits.memory: tmpfs pages and short peaks are charged too

log = logging.getLogger(__name__)

POLL_MS = 100  # granularity for noticing a deadline, a cancel, a dead kernel or Ctrl-C
IDLE_AFTER_REPLY = 1.0  # s to wait for the final 'idle' status once the reply is in


def sandbox_kernel_spec(interrupt_mode: str = "signal") -> KernelSpec:
    """A kernelspec for *this* interpreter, never looked up by name.

    WHY: the installed "python3" spec may point at another interpreter (or a conda env)
    that lacks the packages the user's notebook has.
    """
    return KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="smallcode sandbox",
        language="python",
        interrupt_mode=interrupt_mode,
    )


def kernel_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment minus Jupyter's JPY_* variables (the unconfined path).

    WHY: inside a notebook those describe the *user's* kernel (JPY_PARENT_PID is the Jupyter
    server, JPY_SESSION_NAME the notebook). jupyter_client then sets JPY_PARENT_PID to our
    own pid, so the sandbox kernel exits by itself if this process dies. Confined kernels get
    an allow-list instead (``command.sandbox_env``).
    """
    env = dict(os.environ if base is None else base)
    for key in [k for k in env if k.startswith(("JPY_", "IPY_INTERRUPT_EVENT"))]:
        del env[key]
    return env


def _zmq_context() -> zmq.Context[zmq.Socket[bytes]]:
    """One context for every sandbox client, refusing oversized frames (a hostile kernel can
    write to its IOPub socket directly; zmq checks the size before allocating)."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None or _CONTEXT.closed:
            ctx = zmq.Context()
            ctx.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
            _CONTEXT = ctx
        return _CONTEXT


_CONTEXT: zmq.Context[zmq.Socket[bytes]] | None = None
_CONTEXT_LOCK = threading.Lock()
MAX_MESSAGE = 64 * 2**20


class SandboxKernelManager(KernelManager):
    """KernelManager with an in-memory kernelspec and a hook on the launch command."""

    def __init__(
        self,
        policy: Policy | None = None,
        workdir: str | None = None,
        rundir: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("kernel_name", "smallcode-sandbox")
        if policy is not None and policy.layers:
            # Loopback is private inside a network namespace: talk over unix sockets in rundir.
            kwargs.setdefault("transport", "ipc")
        super().__init__(**kwargs)
        self.policy = policy
        self.workdir = workdir
        self.rundir = rundir
        self.cgroup: Cgroup | None = None  # joined by the launch command when set
        wrapped = policy is not None and policy.wrapped
        # Under bwrap our SIGINT would reach bwrap, not the kernel in its own session.
        self._sandbox_spec = sandbox_kernel_spec("message" if wrapped else "signal")

    @property
    def kernel_spec(self) -> KernelSpec:
        return self._sandbox_spec

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        # jupyter_client 8 has no kernel_cmd setting: this is the one place to wrap the command.
        return self.wrap_command(super().format_kernel_cmd(extra_arguments))

    def wrap_command(self, cmd: list[str]) -> list[str]:
        """HARDENING HOOK: the command that launches the kernel under ``policy``.

        The result keeps the outermost process the leader of its process group (kills are
        sent to the group; bwrap --die-with-parent takes the namespace down with it).
        """
        if self.policy is None or self.workdir is None or self.rundir is None:
            return cmd
        procs = str(self.cgroup.dirs[1] / "cgroup.procs") if self.cgroup is not None else None
        cmd = kernel_command(cmd, self.policy, self.workdir, self.rundir, procs)
        return self.cgroup.wrap(cmd) if self.cgroup is not None else cmd


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
    """A running kernel, its client, its scratch dir (cwd and HOME) and its run dir (sockets)."""

    def __init__(self, manager: SandboxKernelManager, workdir: str, rundir: str | None = None) -> None:
        self.manager = manager
        self.workdir = workdir
        self.rundir = rundir
        self.cgroup: Cgroup | None = None
        self.client: BlockingKernelClient | None = None
        self._poller: zmq.Poller | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def start(
        cls, startup_timeout: float = 60.0, policy: Policy | None = None, max_output: int = 0
    ) -> SandboxKernel:
        """Launch, wait until it answers, configure it. Raises SandboxError on failure.

        ``policy=None`` starts a plain, unconfined kernel (the caller decided that is allowed).
        """
        workdir = tempfile.mkdtemp(prefix="smallcode-sandbox-")
        rundir = tempfile.mkdtemp(prefix="smallcode-run-")  # mode 0700
        kernel = cls(
            SandboxKernelManager(
                policy, workdir, rundir, connection_file=os.path.join(rundir, "kernel.json")
            ),
            workdir,
            rundir,
        )
        try:
            env = kernel_env()
            if policy is not None and policy.layers:
                env = sandbox_env(env, workdir, policy)
            if policy is not None and "cgroup" in policy.layers:
                kernel.cgroup = _make_cgroup(policy)
                kernel.manager.cgroup = kernel.cgroup
            kernel.manager.start_kernel(
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                # ipykernel echoes fd-level output (C extensions, subprocesses) to its own
                # stdout/stderr; in a notebook server those would land in the server log.
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            client = kernel.manager.client(context=_zmq_context())
            client.start_channels(hb=False)  # liveness comes from the process itself
            kernel.client = client
            kernel._poller = zmq.Poller()
            kernel._poller.register(client.iopub_channel.socket, zmq.POLLIN)
            kernel._poller.register(client.shell_channel.socket, zmq.POLLIN)
            kernel._wait_ready(time.monotonic() + startup_timeout)
            kernel._configure(
                time.monotonic() + startup_timeout, max_output, policy.project if policy else None
            )
        except BaseException as exc:  # including Ctrl-C: never leave a half-started kernel
            failure = kernel._launch_failure()
            kernel.shutdown()
            if isinstance(exc, SandboxError) or not isinstance(exc, Exception):
                raise
            if failure is not None:
                raise failure from exc
            raise SandboxError(
                f"cannot start a sandbox kernel with {sys.executable} -m ipykernel_launcher: "
                f"{type(exc).__name__}: {exc}{_ipykernel_hint()}"
            ) from exc
        return kernel

    def _launch_failure(self) -> SandboxError | None:
        """Why the launch failed, when it was a layer: the launcher's report (it refused to
        start the kernel), or the exit code of the prefix that joins the cgroups. A LayerError
        names the layer; ``Sandbox`` may then start again without it."""
        if self.rundir is not None:
            try:
                with open(os.path.join(self.rundir, "launcher-error.txt")) as f:
                    text = f.read(2000).strip()
            except OSError:
                text = ""
            if text:
                try:
                    report = json.loads(text)
                    layer, error = str(report["layer"]), str(report["error"])
                except (ValueError, TypeError, KeyError):
                    layer, error = "", text
                if layer in LAYERS:
                    return LayerError(layer, error)
                return SandboxError(f"the sandbox launcher refused to start the kernel: {error}")
        if self.cgroup is not None and self.exit_code() == EXIT_JOIN_FAILED:
            procs = " and ".join(self.cgroup.procs_files)
            return LayerError("cgroup", f"the kernel could not join its cgroups (writing {procs})")
        return None

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
                failure = self._launch_failure()
                if failure is not None:
                    raise failure
                raise SandboxError(
                    f"sandbox kernel exited during startup (exit code {self.exit_code()}); "
                    f"`smallcode doctor` lists the sandbox layers{_ipykernel_hint()}"
                )
            if time.monotonic() > deadline:
                raise SandboxError("sandbox kernel did not answer within the startup timeout")
        with contextlib.suppress(Empty):  # drop the rest of the startup chatter
            while True:
                self.client.iopub_channel.get_msg(timeout=0.05)

    def _configure(self, deadline: float, max_output: int = 0, project: str | None = None) -> None:
        """Run ``inkernel.configure`` in the kernel, silently, before any generated code."""
        code = source_call(in_kernel_configure, "configure", int(max_output), DROPPED_MARK, project)
        execution = self.send(code, silent=True)
        if self.wait(execution, OutputCollector(0), deadline) != DONE:
            raise SandboxError("sandbox kernel did not finish its configuration")
        reply = execution.reply or {}
        if reply.get("status") != "ok":
            raise SandboxError(
                f"sandbox kernel configuration failed: {reply.get('ename')}: {reply.get('evalue')}"
            )

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
        if self.cgroup is not None:
            self.cgroup.destroy()  # anything that left the process group or the namespace
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self.rundir is not None:
            shutil.rmtree(self.rundir, ignore_errors=True)

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
        """SIGINT to the kernel's group, or an interrupt_request where signals cannot reach it
        (bwrap: the kernel runs in its own session inside a pid namespace)."""
        if self.manager.kernel_spec.interrupt_mode != "message":
            self.signal(signal.SIGINT)
            return
        if self.client is None or not self.is_alive():
            return
        control = self.client.control_channel
        with contextlib.suppress(Empty):  # drop earlier interrupt_replies
            for _ in range(100):
                control.get_msg(timeout=0)
        control.send(self.client.session.msg("interrupt_request", content={}))

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
        collector: OutputCollector,
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

    def _drain(self, execution: Execution, collector: OutputCollector) -> None:
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


def _make_cgroup(policy: Policy) -> Cgroup:
    """The kernel's cgroups, or LayerError naming what could not be created."""
    lim = policy.limits
    try:
        return Cgroup(lim.memory + CGROUP_SLACK, lim.processes)
    except OSError as e:
        where = f"cannot create {e.filename}" if e.filename else "cannot create the kernel's cgroup"
        raise LayerError("cgroup", f"{where}: {type(e).__name__}: {e.strerror}") from e


def _has_ipykernel() -> bool:
    return importlib.util.find_spec("ipykernel_launcher") is not None


def _ipykernel_hint() -> str:
    """A pointer to ipykernel only when it is what is missing."""
    if _has_ipykernel():
        return ""
    return f". ipykernel is not installed for {sys.executable}: pip install ipykernel"
