"""The panel's messages: validation of what the panel sends, and the shape of what it gets back.

Protocol (``data`` of each comm message; every message has a ``type``):

panel → kernel
    ``hello``                        → ``hello`` (version, model, models, busy task id)
    ``models``                       → ``models``
    ``run`` {id, task, model?, max_iters?, candidates?, run_tests?, plan?,
             cells?, notebook?, active?, context?, cell? {source, error?}}
                                     → ``accepted``, ``status``…, ``event``…, then ``result``
                                       or ``error`` (with the id)
    ``stop`` {id?}                   → ``stopping``; the loop stops at its next check
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
from typing import Any

from ..loop.events import Request, Result

COMM_TARGET = "smallcode"
MAX_MESSAGE_CHARS = 2_000_000  # a notebook's cells as the editor has them; more is refused
MAX_TASK_CHARS = 20_000
MAX_ITERS_RANGE = (0, 10)
CANDIDATES_RANGE = (1, 10)

Message = dict[str, Any]
Send = Callable[[Message], None]


class BadMessage(ValueError):
    """A panel message that cannot be served (unknown type, missing or wrong field)."""


@dataclass
class Task:
    """A validated ``run`` message: the loop's request plus what the panel sent with it."""

    id: str
    request: Request
    model: str | None  # None: the session's model
    cells: list[str] = field(default_factory=list)  # the editor's code cells, for context
    notebook: str = "notebook"
    active: int | None = None  # the cell being changed (already in the request's context)


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


def _in_range(data: dict[str, Any], name: str, bounds: tuple[int, int]) -> int | None:
    value: int | None = _get(data, name, int)
    if value is not None and not bounds[0] <= value <= bounds[1]:
        raise BadMessage(f"{name} must be between {bounds[0]} and {bounds[1]}")
    return value


def build_task(data: dict[str, Any]) -> Task:
    """Validate a ``run`` message into a :class:`Task` (raises :class:`BadMessage`)."""
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
    max_iters = _in_range(data, "max_iters", MAX_ITERS_RANGE)
    candidates = _in_range(data, "candidates", CANDIDATES_RANGE)
    context = _get(data, "context", str, "")
    if source:
        context = active_cell_context(source, error) + ("\n\n" + context if context else "")
        if not text:
            text = "Fix this code so that it runs without the error."
    request = Request(
        task=text,
        context=context,
        max_iters=max_iters,
        candidates=candidates,
        run=_get(data, "run_tests", bool, True),
        plan=_get(data, "plan", bool, True),
        use_context=bool(cells),
    )
    active = _get(data, "active", int)
    return Task(
        task_id,
        request,
        _get(data, "model", str) or None,
        cells,
        _get(data, "notebook", str, "notebook") or "notebook",
        active if source else None,  # only the cell being changed is left out of the context
    )


def active_cell_context(source: str, error: str = "") -> str:
    """The active cell (and its last error) as context for a task that changes it."""
    text = "# The current code (the active cell):\n" + source.rstrip()
    if error.strip():
        lines = error.strip().splitlines()[-15:]
        text += "\n# It fails with:\n" + "\n".join(f"# {line}" for line in lines)
    return text


def result_message(result: Result) -> dict[str, Any]:
    """What the panel needs of a :class:`Result` (all of it, plus the one-line summary)."""
    data: dict[str, Any] = jsonable(result.to_dict())
    data["summary"] = result.summary()
    data["tokens"] = result.usage.tokens
    return data


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (anything else becomes its ``str``)."""
    return json.loads(json.dumps(value, default=str))
