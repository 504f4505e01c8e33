"""The panel's tasks: one at a time per kernel, each in a worker thread, streamed as messages.

Comm messages are handled between cell executions, so a handler that ran the loop itself would
freeze the kernel; the loop runs in a worker thread instead, through the kernel's
:class:`~smallcode_jupyter.session.Session` (the model, sandbox and run lock the cells use too).
The session also builds the request (its ``%config`` traits), gives the retriever (project,
corpora, executed cells) merged here with the editor's cells, and the live state.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable

from ..context.editor import Combined, EditorCells
from ..context.types import ContextProvider
from ..loop.events import Event
from ..session import Session, SessionBusy
from .protocol import Send, Task, jsonable, result_message

TOKEN_FLUSH_SECONDS = 0.1  # batch streamed tokens into one comm message per interval
CELL_BUSY = "busy: a %%smallcode cell is running in this kernel"


class Streamer:
    """Loop events → ``event`` messages, with tokens batched so a fast model does not flood the
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
        self.send({"type": "event", "id": self.task_id, "kind": event.kind, "data": jsonable(event.data)})

    def flush(self) -> None:
        """Send the tokens buffered so far as one ``token`` event."""
        self.last = time.monotonic()
        if self.buffer:
            text, self.buffer = "".join(self.buffer), []
            self.send({"type": "event", "id": self.task_id, "kind": "token", "data": {"text": text}})


class TaskRunner:
    """One panel task at a time for the whole kernel, each in its own worker thread.

    A task's ``model`` becomes the session's model as soon as it is loaded, as
    ``%smallcode model NAME`` would: the picker chooses the kernel's model, and later cells and
    panel tasks use it too. The switch happens under the session's run lock, so no cell is
    between loading one model and reading another's settings; a model that fails to load leaves
    the session's model as it was.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._lock = threading.Lock()
        self.current: Task | None = None
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> str | None:
        """The id of the running task, if any."""
        task = self.current
        return task.id if task is not None else None

    def start(self, task: Task, send: Send) -> bool:
        """Run ``task`` in a worker thread; False (and nothing sent) if another one is running.

        The request is built first, by the session (raises what it raises on a bad task)."""
        task.build(self.session)
        with self._lock:
            if self.current is not None:
                return False
            self.current = task
        send({"type": "accepted", "id": task.id})  # before the worker can send anything
        self._thread = threading.Thread(
            target=self._work, args=(task, send), name=f"smallcode-panel-{task.id}", daemon=True
        )
        self._thread.start()
        return True

    def stop(self, task_id: str | None = None) -> str | None:
        """Ask the running task (any, or the one with ``task_id``) to stop; returns its id."""
        task = self.current
        if task is None or (task_id and task.id != task_id):
            return None
        task.request.cancel.set()
        return task.id

    def join(self, timeout: float | None = None) -> None:
        """Wait for the last task's worker thread to end."""
        if self._thread is not None:
            self._thread.join(timeout)

    def context(self, task: Task, warn: Callable[[str], None]) -> ContextProvider | None:
        """What the task retrieves from: the editor's cells (unsaved edits) and the session's
        retriever, merged; nothing when ``%config SmallcodeMagics.use_context = False``."""
        if not self.session.config.use_context:
            return None
        retriever: ContextProvider | None = None
        try:
            retriever = self.session.retriever()
        except Exception as e:  # a broken index or custom provider costs the context, not the run
            warn(f"retrieval unavailable, using the notebook's cells only: {type(e).__name__}: {e}")
        editor = EditorCells(task.cells, task.notebook, task.active) if task.cells else None
        skip = [task.fix[0] if task.fix else task.source]
        return Combined([editor, retriever], exclude=skip)

    def _work(self, task: Task, send: Send) -> None:
        def say(state: str, message: str) -> None:
            if state == "ready" and task.model:
                self.session.set_model(task.model)  # resolved and loaded: the choice sticks
            send({"type": "status", "id": task.id, "state": state, "message": message})

        streamer = Streamer(task.id, send)
        try:
            context = self.context(task, lambda message: say("context", message))
            result = self.session.run(
                task.request,
                streamer,
                model=task.model,
                context=context,
                use_retriever=False,
                say=say,
                warn=lambda message: say("sandbox", message),
            )
            streamer.flush()
            send({"type": "result", "id": task.id, "result": result_message(result)})
        except SessionBusy:
            send({"type": "error", "id": task.id, "message": CELL_BUSY})
        except Exception as e:  # every failure is shown in the panel, none only in a log
            trace = "".join(traceback.format_exception(e))[-4000:]
            send({"type": "error", "id": task.id, "message": f"{type(e).__name__}: {e}", "traceback": trace})
        finally:
            with self._lock:
                self.current = None
            say("idle", "idle")
