"""The panel's messages: validation of what the panel sends, and the shape of what it gets back.

Protocol (``data`` of each comm message; every message has a ``type``):

panel → kernel
    ``hello``                        → ``hello`` (version, model, models, defaults, busy task id)
    ``models``                       → ``models`` (model, models, defaults)
    ``run`` {id, task, model?, max_iters?, candidates?, max_tokens?, timeout?, run_tests?, plan?,
             cells?, notebook?, active?, context?, cell? {source, error?}, fix?}
                                     → ``accepted``, ``status``…, ``event``…, then ``result``
                                       or ``error`` (with the id)
    ``stop`` {id?}                   → ``stopping``; the loop stops at its next check

A ``run`` builds its request through the kernel's session (``Session.request``, or
``Session.fix_request`` for ``fix``), so what the panel leaves out is what ``%config
SmallcodeMagics`` says, as for a ``%%smallcode`` cell; ``model`` is sent only when the user picked
one, and switches the kernel's model. ``defaults`` are those traits, for the panel's placeholders.
kernel → panel
    ``event`` {id, kind, data}       one loop event (tokens batched, see :class:`.runner.Streamer`)
    ``status`` {id, state, message}  model preparing/loading/ready, sandbox starting, running, idle
    ``result`` {id, result}          :func:`result_message`
    ``error`` {id?, message}         anything that went wrong, never a silent failure

``labextension/src/protocol.ts`` is the other side; keep the two in step.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..loop.events import Request, Result

if TYPE_CHECKING:
    from ..session import Session

COMM_TARGET = "smallcode"
MAX_MESSAGE_CHARS = 2_000_000  # a notebook's cells as the editor has them; more is refused
MAX_TASK_CHARS = 20_000
MAX_ITERS_RANGE = (0, 10)
CANDIDATES_RANGE = (1, 10)
MAX_TOKENS_RANGE = (16, 8192)
TIMEOUT_RANGE = (0.5, 600.0)

Message = dict[str, Any]
Send = Callable[[Message], None]


class BadMessage(ValueError):
    """A panel message that cannot be served (unknown type, missing or wrong field)."""


@dataclass
class Task:
    """A validated ``run`` message: what the panel asked for, before the session makes it a
    request (:meth:`build`), so the kernel's traits fill in what the panel left out."""

    id: str
    text: str  # the user's words ('' for a fix without any)
    model: str | None  # None: the session's model (only an explicit pick names one)
    context: str = ""  # what the request carries besides retrieval (the cell being changed...)
    overrides: dict[str, Any] = field(default_factory=dict)  # per-task options the panel set
    cells: list[str] = field(default_factory=list)  # the editor's code cells, for context
    notebook: str = "notebook"
    active: int | None = None  # the cell being changed (already in the request's context)
    source: str = ""  # that cell's code
    fix: tuple[str, str] | None = None  # (source, error) of a cell to repair
    request: Request = field(default_factory=lambda: Request(task=""))  # set by build()

    def build(self, session: Session) -> Request:
        """The loop's request, from the session as a ``%%smallcode`` cell's is: its traits, then
        the options the panel sent (a fix: ``Session.fix_request``, as ``%smallcode fix``)."""
        if self.fix is not None:
            request = session.fix_request(*self.fix, **self.overrides)
            # the user's words about the fix are a hint, as for `%smallcode fix HINT`
            request.context = "\n".join(t for t in (self.text, self.context.strip()) if t)
        else:
            request = session.request(self.text, self.context, **self.overrides)
        self.request = request
        return request


def _get(
    data: dict[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    default: Any = None,
    required: bool = False,
) -> Any:
    """``data[name]`` if it has type ``kind`` (a bool is not an int); ``default`` when absent."""
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


def check_size(data: Any) -> None:
    """Refuse a message that is not JSON or larger than :data:`MAX_MESSAGE_CHARS`."""
    try:
        size = len(json.dumps(data))
    except (TypeError, ValueError) as e:
        raise BadMessage(f"message is not JSON: {e}") from e
    if size > MAX_MESSAGE_CHARS:
        raise BadMessage(f"message too large (more than {MAX_MESSAGE_CHARS} characters)")


def _in_range(
    data: dict[str, Any], name: str, bounds: tuple[float, float], kind: type | tuple[type, ...] = int
) -> Any:
    value = _get(data, name, kind)
    if value is not None and not bounds[0] <= value <= bounds[1]:
        raise BadMessage(f"{name} must be between {bounds[0]} and {bounds[1]}")
    return value


def build_task(data: dict[str, Any]) -> Task:
    """Validate a ``run`` message into a :class:`Task` (raises :class:`BadMessage`).

    ``fix`` (or, from older panels, a ``cell`` with an ``error`` and no task) repairs that cell;
    a ``cell`` without ``fix`` is the cell the task changes. Options left out stay with the
    session: only what the panel set is an override.
    """
    task_id = _get(data, "id", str, required=True)
    text = _get(data, "task", str, "").strip()
    cell = _get(data, "cell", dict, {})
    source = _get(cell, "source", str, "")
    error = _get(cell, "error", str, "")
    fix = bool(_get(data, "fix", bool, False)) or bool(source.strip() and error.strip() and not text)
    if fix and not (source.strip() and error.strip()):
        raise BadMessage("a fix needs the cell's 'source' and its 'error'")
    if not text and not fix:
        raise BadMessage("missing field 'task': say what the code should do")
    if len(text) > MAX_TASK_CHARS:
        raise BadMessage(f"task too long ({len(text)} characters; at most {MAX_TASK_CHARS})")
    cells = _get(data, "cells", list, [])
    if not all(isinstance(c, str) for c in cells):
        raise BadMessage("field 'cells' must be a list of strings")
    overrides: dict[str, Any] = {
        "max_iters": _in_range(data, "max_iters", MAX_ITERS_RANGE),
        "candidates": _in_range(data, "candidates", CANDIDATES_RANGE),
        "max_tokens": _in_range(data, "max_tokens", MAX_TOKENS_RANGE),
        "timeout": _in_range(data, "timeout", TIMEOUT_RANGE, (int, float)),
        "run": _get(data, "run_tests", bool),
        "plan": _get(data, "plan", bool),
    }
    if overrides["timeout"] is not None:
        overrides["timeout"] = float(overrides["timeout"])
    context = _get(data, "context", str, "")
    if source and not fix:
        context = active_cell_context(source) + ("\n\n" + context if context else "")
    active = _get(data, "active", int)
    return Task(
        task_id,
        text,
        _get(data, "model", str) or None,
        context,
        {k: v for k, v in overrides.items() if v is not None},
        cells,
        _get(data, "notebook", str, "notebook") or "notebook",
        active if source else None,  # only the cell being changed is left out of the context
        source,
        (source, error) if fix else None,
    )


def active_cell_context(source: str, error: str = "") -> str:
    """The active cell (and its last error) as context for a task that changes it."""
    text = "# The current code (the active cell):\n" + source.rstrip()
    if error.strip():
        lines = error.strip().splitlines()[-15:]
        text += "\n# It fails with:\n" + "\n".join(f"# {line}" for line in lines)
    return text


def result_message(result: Result) -> dict[str, Any]:
    """What the panel needs of a :class:`Result` (all of it but the logged candidates, which only
    the benchmark reads, plus the one-line summary)."""
    data: dict[str, Any] = jsonable(result.to_dict())
    data.pop("attempts", None)
    data["summary"] = result.summary()
    data["tokens"] = result.usage.tokens
    return data


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (anything else becomes its ``str``)."""
    return json.loads(json.dumps(value, default=str))
