"""The ``smallcode`` comm target: one :class:`PanelConnection` per open panel, one
:class:`~.runner.TaskRunner` per kernel, registered by ``%load_ext smallcode``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, ClassVar

from ..session import Session
from .protocol import COMM_TARGET, BadMessage, Message, _get, build_task, check_size, jsonable
from .runner import TaskRunner

# The session's per-request defaults (the magics' traits) the panel shows as its placeholders.
DEFAULTS = (
    "candidates",
    "max_iters",
    "max_tokens",
    "timeout",
    "run_tests",
    "plan",
    "use_context",
    "live_state",
)


def models_message(session: Session) -> Message:
    """The session's model, the models to pick from and the per-request defaults, as ``hello``
    and ``models`` carry them.

    Each row has the ``spec`` to send back to switch to it: the current model's is the session's
    own spec (a .gguf path, ``hf:...``), which its name (a file's stem) would not resolve.
    """
    config = session.config
    rows = [
        {
            "name": r.name,
            "params_b": r.params_b,
            "state": r.state,
            "current": r.current,
            "spec": r.spec or (config.model if r.current else r.name),
        }
        for r in session.models()
    ]
    defaults = {name: getattr(config, name) for name in DEFAULTS if hasattr(config, name)}
    return {"model": config.model, "models": rows, "defaults": jsonable(defaults)}


class PanelConnection:
    """One open comm from one panel; many may share the kernel's :class:`TaskRunner`."""

    def __init__(self, comm: Any, runner: TaskRunner) -> None:
        self.comm, self.runner = comm, runner
        self.closed = False

    def send(self, data: Message) -> None:
        """Send ``data`` to the panel; a comm that fails is closed quietly (the panel is gone)."""
        if self.closed:
            return
        try:
            self.comm.send(data)
        except Exception:  # a comm torn down mid-run (kernel shutting down, panel gone)
            self.closed = True

    def on_msg(self, msg: dict[str, Any]) -> None:
        """The comm callback: ``msg`` is the whole Jupyter message."""
        data = (msg.get("content") or {}).get("data") if isinstance(msg, dict) else None
        request_id = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
        try:
            self.handle(data)
        except BadMessage as e:
            self.send({"type": "error", "id": request_id, "message": f"bad message: {e}"})
        except Exception as e:  # never let a message take the kernel's comm handling down
            self.send({"type": "error", "id": request_id, "message": f"{type(e).__name__}: {e}"})

    def on_close(self, _msg: Any = None) -> None:
        self.closed = True

    def handle(self, data: Any) -> None:
        """Answer one message from the panel (raises :class:`BadMessage`)."""
        if not isinstance(data, dict):
            raise BadMessage("a message must be a JSON object")
        check_size(data)
        kind = _get(data, "type", str, required=True)
        handler = self._handlers.get(kind)
        if handler is None:
            raise BadMessage(f"unknown message type {kind!r}; one of: {', '.join(self._handlers)}")
        handler(self, data)

    def hello(self, _data: Message | None = None) -> None:
        from .. import __version__

        session = self.runner.session
        self.send(
            {"type": "hello", "version": __version__, **models_message(session), "busy": self.runner.busy}
        )

    def _models(self, _data: Message) -> None:
        self.send({"type": "models", **models_message(self.runner.session)})

    def _run(self, data: Message) -> None:
        task = build_task(data)
        if not self.runner.start(task, self.send):
            busy = f"busy: task {self.runner.busy} is still running in this kernel; stop it or wait"
            self.send({"type": "error", "id": task.id, "message": busy})

    def _stop(self, data: Message) -> None:
        stopped = self.runner.stop(_get(data, "id", str))
        if stopped:
            self.send({"type": "stopping", "id": stopped})
        else:
            self.send({"type": "error", "id": data.get("id"), "message": "no task is running"})

    _handlers: ClassVar[dict[str, Callable[[PanelConnection, Message], None]]] = {
        "hello": hello,
        "models": _models,
        "run": _run,
        "stop": _stop,
    }


class PanelTarget:
    """The ``smallcode`` comm target of one kernel: opens a :class:`PanelConnection` per comm."""

    def __init__(self, session: Session) -> None:
        self.runner = TaskRunner(session)
        self.connections: list[PanelConnection] = []

    def __call__(self, comm: Any, open_msg: Any = None) -> PanelConnection:
        conn = PanelConnection(comm, self.runner)
        comm.on_msg(conn.on_msg)
        comm.on_close(conn.on_close)
        self.connections = [c for c in self.connections if not c.closed] + [conn]
        conn.hello()
        return conn

    def close(self) -> None:
        """Stop the running task and close every panel's comm."""
        self.runner.stop()
        self.runner.join(timeout=5)
        for conn in self.connections:
            if not conn.closed:
                conn.closed = True
                with contextlib.suppress(Exception):  # the kernel may be going away
                    conn.comm.close()
        self.connections = []


def _comm_manager(shell: Any) -> Any:
    return getattr(getattr(shell, "kernel", None), "comm_manager", None)


def register(shell: Any, session: Session) -> PanelTarget | None:
    """Register the ``smallcode`` comm target in this kernel (a no-op outside a kernel)."""
    manager = _comm_manager(shell)
    if manager is None:
        return None
    unregister(shell)
    target = PanelTarget(session)
    manager.register_target(COMM_TARGET, target)
    _TARGETS[id(shell)] = target
    return target


def unregister(shell: Any) -> None:
    """Stop any panel task, close the panels' comms and remove the target."""
    target = _TARGETS.pop(id(shell), None)
    if target is None:
        return
    target.close()
    manager = _comm_manager(shell)
    if manager is not None:
        with contextlib.suppress(KeyError):
            manager.unregister_target(COMM_TARGET, target)


_TARGETS: dict[int, PanelTarget] = {}
