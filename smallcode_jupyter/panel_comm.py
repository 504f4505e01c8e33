"""The kernel side of the JupyterLab side panel: a comm target named ``smallcode``.

The panel (``labextension/``) opens a comm to the kernel of the active notebook and sends small
JSON messages; this module answers them. A task runs the same :class:`~.loop.pipeline.Pipeline`
as ``%%smallcode``, with the same model, settings and warm sandbox (taken from the
:class:`~.magics.SmallcodeMagics` of this kernel), but in a worker thread: comm messages are
handled between cell executions, so a handler that ran the loop itself would freeze the kernel.

Protocol (``data`` of each comm message; every message has a ``type``):

panel → kernel
    ``hello``                        → ``hello`` (version, model, models, busy task id)
    ``models``                       → ``models``
    ``run`` {id, task, model?, max_iters?, candidates?, run_tests?, plan?,
             cells?, notebook?, cell? {source, error?}}
                                     → ``accepted``, ``status``…, ``event``…, then ``result``
                                       or ``error`` (with the id)
    ``stop`` {id?}                   → ``stopping``; the loop stops at its next check
kernel → panel
    ``event`` {id, kind, data}       one pipeline event (tokens batched, see :class:`_Streamer`)
    ``status`` {id, state, message}  model preparing/loading/ready, sandbox starting, idle
    ``error`` {id?, message}         anything that went wrong, never a silent failure

Only one task runs per kernel at a time; a second ``run`` is refused with an ``error`` that says
which task is running (the panel disables its Run button meanwhile, so this is the rare case of
two panels on one kernel).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from .context.editor import EditorCells
from .loop.events import Event, Request, Result

COMM_TARGET = "smallcode"
MAX_MESSAGE_CHARS = 2_000_000  # a notebook's cells as the editor has them; more is refused
MAX_TASK_CHARS = 20_000
TOKEN_FLUSH_SECONDS = 0.1  # batch streamed tokens into one comm message per interval

Send = Callable[[dict[str, Any]], None]


class BadMessage(ValueError):
    """A panel message that cannot be served (unknown type, missing or wrong field)."""


class Backend(Protocol):
    """Where the panel's tasks get their model and sandbox (the magics in a real kernel)."""

    def current_model(self) -> str: ...

    def models(self) -> list[dict[str, Any]]: ...

    def prepare(self, model: str | None, say: Callable[[str, str], None]) -> tuple[Any, Any]:
        """(chat model, loop settings) for ``model`` (None: the current one), loading it if needed."""
        ...

    def sandbox(self) -> Any: ...

    run_lock: threading.Lock  # held while a loop runs in this kernel (panel or cell)


class MagicsBackend:
    """The kernel's :class:`~.magics.SmallcodeMagics`: one model, one warm sandbox for both fronts."""

    def __init__(self, magics: Any) -> None:
        self.magics = magics
        self.run_lock = magics.run_lock

    def current_model(self) -> str:
        return str(self.magics.model)

    def models(self) -> list[dict[str, Any]]:
        from pathlib import Path

        from .models import llm
        from .models.catalog import PRESETS
        from .models.store import availability, default_cache_dir

        cache = Path(self.magics.cache_dir) if self.magics.cache_dir else default_cache_dir()
        loaded = {m.name for m in llm.loaded()}
        return [
            {
                "name": p.name,
                "params_b": p.params_b,
                "state": "loaded" if p.name in loaded else availability(p, cache),
            }
            for p in PRESETS.values()
        ]

    def prepare(self, model: str | None, say: Callable[[str, str], None]) -> tuple[Any, Any]:
        from .models import llm

        m = self.magics
        if model and model != m.model:
            m.model = model  # the picker chooses the kernel's model, as `%smallcode model NAME` does
        say("preparing", f"preparing {m.model}")
        resolved = m.resolved_model()
        if all(str(x.model.path) != str(resolved.path) for x in llm.loaded()):
            say("loading", f"loading {resolved.name} into llama.cpp")
        chat = m.llm()
        say("ready", f"{resolved.name} ready")
        return chat, resolved.settings

    def sandbox(self) -> Any:
        return self.magics.sandbox()


# -- one task ----------------------------------------------------------------------------------------
@dataclass
class _Task:
    id: str
    request: Request
    model: str | None
    cells: list[str] = field(default_factory=list)
    notebook: str = "notebook"
    active: int | None = None
    thread: threading.Thread | None = None


class _Streamer:
    """Pipeline events → comm messages, with tokens batched so a fast model does not flood the
    websocket with one message per token."""

    def __init__(self, task_id: str, send: Send, interval: float = TOKEN_FLUSH_SECONDS) -> None:
        self.task_id, self.send, self.interval = task_id, send, interval
        self.buffer: list[str] = []
        self.last = time.monotonic()

    def __call__(self, event: Event) -> None:
        if event.kind == "token":
            self.buffer.append(str(event.data.get("text", "")))
            if time.monotonic() - self.last >= self.interval:
                self.flush()
            return
        self.flush()
        self.send({"type": "event", "id": self.task_id, "kind": event.kind, "data": _jsonable(event.data)})

    def flush(self) -> None:
        self.last = time.monotonic()
        if self.buffer:
            text, self.buffer = "".join(self.buffer), []
            self.send({"type": "event", "id": self.task_id, "kind": "token", "data": {"text": text}})


class TaskRunner:
    """One task at a time for the whole kernel, each in its own worker thread."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self.current: _Task | None = None

    @property
    def busy(self) -> str | None:
        task = self.current
        return task.id if task is not None else None

    def start(self, task: _Task, send: Send) -> bool:
        with self._lock:
            if self.current is not None:
                return False
            self.current = task
        send({"type": "accepted", "id": task.id})  # before the worker can send anything
        task.thread = threading.Thread(target=self._work, args=(task, send), name=f"smallcode-panel-{task.id}",
                                       daemon=True)  # fmt: skip
        task.thread.start()
        return True

    def stop(self, task_id: str | None = None) -> str | None:
        """Ask the running task (any, or the one with ``task_id``) to stop; returns its id."""
        task = self.current
        if task is None or (task_id and task.id != task_id):
            return None
        task.request.cancel.set()
        return task.id

    def join(self, timeout: float | None = None) -> None:
        task = self.current
        if task is not None and task.thread is not None:
            task.thread.join(timeout)

    def _work(self, task: _Task, send: Send) -> None:
        from .loop.pipeline import Pipeline

        def say(state: str, message: str) -> None:
            send({"type": "status", "id": task.id, "state": state, "message": message})

        if not self.backend.run_lock.acquire(blocking=False):
            send({"type": "error", "id": task.id, "message": "busy: a %%smallcode cell is running in this kernel"})
            with self._lock:
                self.current = None
            say("idle", "idle")
            return
        try:
            chat, settings = self.backend.prepare(task.model, say)
            sandbox = None
            if task.request.run and not task.request.cancel.is_set():
                say("sandbox", "starting the sandbox kernel")
                sandbox = self.backend.sandbox()
            context = EditorCells(task.cells, task.notebook, task.active) if task.cells else None
            say("running", "running")
            streamer = _Streamer(task.id, send)
            result = Pipeline(chat, settings, sink=streamer, sandbox=sandbox, context=context).run(
                task.request
            )
            streamer.flush()
            send({"type": "result", "id": task.id, "result": result_message(result)})
        except Exception as e:  # every failure is shown in the panel, none only in a log
            send({"type": "error", "id": task.id, "message": f"{type(e).__name__}: {e}",
                  "traceback": "".join(traceback.format_exception(e))[-4000:]})  # fmt: skip
        finally:
            self.backend.run_lock.release()
            with self._lock:
                self.current = None
            say("idle", "idle")


def result_message(result: Result) -> dict[str, Any]:
    """What the panel needs of a :class:`Result` (all of it, plus the one-line summary)."""
    data = _jsonable(result.to_dict())
    data["summary"] = result.summary()
    data["tokens"] = result.usage.tokens
    return data


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# -- messages ------------------------------------------------------------------------------------------
def _get(
    data: dict[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    default: Any = None,
    required: bool = False,
) -> Any:
    if name not in data or data[name] is None:
        if required:
            raise BadMessage(f"missing field {name!r}")
        return default
    value = data[name]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise BadMessage(
            f"field {name!r} must be {getattr(kind, '__name__', kind)}, not {type(value).__name__}"
        )
    return value


def _size(value: Any) -> int:
    try:
        return len(json.dumps(value))
    except (TypeError, ValueError) as e:
        raise BadMessage(f"message is not JSON: {e}") from e


def build_task(data: dict[str, Any]) -> _Task:
    """Validate a ``run`` message into a task (raises :class:`BadMessage`)."""
    task_id = _get(data, "id", str, required=True)
    text = _get(data, "task", str, "").strip()
    cell = _get(data, "cell", dict, {})
    source = _get(cell, "source", str, "")
    error = _get(cell, "error", str, "")
    if not text and not (source and error):
        raise BadMessage("missing field 'task': say what the code should do")
    if len(text) > MAX_TASK_CHARS:
        raise BadMessage(f"task too long ({len(text)} characters; at most {MAX_TASK_CHARS})")
    cells = _get(data, "cells", list, [])
    if not all(isinstance(c, str) for c in cells):
        raise BadMessage("field 'cells' must be a list of strings")
    max_iters = _get(data, "max_iters", int)
    candidates = _get(data, "candidates", int)
    if max_iters is not None and not 0 <= max_iters <= 10:
        raise BadMessage("max_iters must be between 0 and 10")
    if candidates is not None and not 1 <= candidates <= 10:
        raise BadMessage("candidates must be between 1 and 10")
    context = _get(data, "context", str, "")
    if source:
        context = active_cell_context(source, error) + ("\n\n" + context if context else "")
        if not text:
            text = "Fix this code so that it runs without the error."
    request = Request(
        task=text, context=context, max_iters=max_iters, candidates=candidates,
        run=_get(data, "run_tests", bool, True), plan=_get(data, "plan", bool, True),
        use_context=bool(cells),
    )  # fmt: skip
    active = _get(data, "active", int)
    return _Task(task_id, request, _get(data, "model", str) or None, cells,
                 _get(data, "notebook", str, "notebook") or "notebook",
                 active if source else None)  # the cell being changed is in the context already  # fmt: skip


def active_cell_context(source: str, error: str = "") -> str:
    """The active cell (and its last error) as context for a task that changes it."""
    text = "# The current code (the active cell):\n" + source.rstrip()
    if error.strip():
        lines = error.strip().splitlines()[-15:]
        text += "\n# It fails with:\n" + "\n".join(f"# {line}" for line in lines)
    return text


class PanelConnection:
    """One open comm from one panel; many may share the kernel's :class:`TaskRunner`."""

    def __init__(self, comm: Any, runner: TaskRunner) -> None:
        self.comm, self.runner = comm, runner
        self.closed = False

    def send(self, data: dict[str, Any]) -> None:
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
        if not isinstance(data, dict):
            raise BadMessage("a message must be a JSON object")
        if _size(data) > MAX_MESSAGE_CHARS:
            raise BadMessage(f"message too large (more than {MAX_MESSAGE_CHARS} characters)")
        kind = _get(data, "type", str, required=True)
        handler = self._handlers.get(kind)
        if handler is None:
            raise BadMessage(f"unknown message type {kind!r}; one of: {', '.join(self._handlers)}")
        handler(self, data)

    def _hello(self, _data: dict[str, Any]) -> None:
        from . import __version__

        self.send({"type": "hello", "version": __version__, "model": self.runner.backend.current_model(),
                   "models": self.runner.backend.models(), "busy": self.runner.busy})  # fmt: skip

    def _models(self, _data: dict[str, Any]) -> None:
        self.send({"type": "models", "model": self.runner.backend.current_model(),
                   "models": self.runner.backend.models()})  # fmt: skip

    def _run(self, data: dict[str, Any]) -> None:
        task = build_task(data)
        if not self.runner.start(task, self.send):
            self.send({"type": "error", "id": task.id,
                       "message": f"busy: task {self.runner.busy} is still running in this kernel; stop it or wait"})  # fmt: skip

    def _stop(self, data: dict[str, Any]) -> None:
        stopped = self.runner.stop(_get(data, "id", str))
        self.send({"type": "stopping", "id": stopped} if stopped else {"type": "error", "id": data.get("id"),
                                                                         "message": "no task is running"})  # fmt: skip

    _handlers: ClassVar[dict[str, Callable[[PanelConnection, dict[str, Any]], None]]] = {
        "hello": _hello, "models": _models, "run": _run, "stop": _stop,
    }  # fmt: skip


# -- registration -------------------------------------------------------------------------------------
class PanelTarget:
    """The ``smallcode`` comm target of one kernel: opens a :class:`PanelConnection` per comm."""

    def __init__(self, backend: Backend) -> None:
        self.runner = TaskRunner(backend)
        self.connections: list[PanelConnection] = []

    def __call__(self, comm: Any, open_msg: Any = None) -> PanelConnection:
        conn = PanelConnection(comm, self.runner)
        comm.on_msg(conn.on_msg)
        comm.on_close(conn.on_close)
        self.connections = [c for c in self.connections if not c.closed] + [conn]
        conn._hello({})
        return conn

    def close(self) -> None:
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


def register(shell: Any, magics: Any) -> PanelTarget | None:
    """Register the ``smallcode`` comm target in this kernel (a no-op outside a kernel)."""
    manager = _comm_manager(shell)
    if manager is None:
        return None
    unregister(shell)
    target = PanelTarget(MagicsBackend(magics))
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
