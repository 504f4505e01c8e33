"""The notebook's live variables as the loop gets them: described for the model, copied for the
sandbox (:class:`~.types.LiveState`).

Runs in the user's kernel, on the user's objects, so it only ever *reads* them: it never calls
a user-defined ``__repr__`` (the description is :mod:`.livestate`'s), and a copy is a pickle
(cloudpickle, protocol 5, so functions and classes defined in the notebook travel by value)
written under a size cap. What cannot be pickled (a generator, an open file, a lock) is rebuilt
in the sandbox by re-running the cell that defined it when that cell is self-contained, or left
out with the reason. The user's namespace is never written.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import io
import sys
import time
import types
from collections.abc import Mapping, Sequence
from typing import Any

from .entries import _parse
from .livestate import IPYTHON_NAMES, describe, module_aliases, referenced_names
from .notebook import Shell, history_cells
from .types import LiveState

MiB = 2**20
DEFAULT_MAX_BYTES = 256 * MiB
SMALL = 100_000  # bytes: variables this small are copied even when the task does not name them
MAX_COPIED = 40


class TooBig(Exception):
    """The pickle grew past the copy limit."""


class _CappedBuffer(io.BytesIO):
    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap

    def write(self, b: Any) -> int:
        if self.tell() + memoryview(b).nbytes > self.cap:
            raise TooBig
        return super().write(b)


def estimate_size(obj: object) -> int:
    """A cheap estimate of the bytes a copy takes, without walking big objects (or calling
    anything a user class defines): arrays and frames know their size, containers are sampled."""
    kind = type(obj)
    module = getattr(kind, "__module__", "") or ""
    try:
        if module.startswith("numpy") and hasattr(obj, "nbytes"):
            return int(obj.nbytes)
        if module.startswith("pandas") and kind.__name__ in ("DataFrame", "Series"):
            return int(obj.memory_usage(index=True, deep=False).sum())  # type: ignore[attr-defined]
        if isinstance(obj, str | bytes | bytearray) and kind in (str, bytes, bytearray):
            return len(obj)
        if isinstance(obj, list | tuple | set | frozenset | dict) and kind in (
            list,
            tuple,
            set,
            frozenset,
            dict,
        ):
            n = len(obj)
            items = list(obj.items() if isinstance(obj, dict) else obj)[:20] if n else []
            each = sum(sys.getsizeof(x) for x in items) / max(1, len(items))
            return int(sys.getsizeof(obj) + n * each)
    except Exception:
        return 0
    return sys.getsizeof(obj) if kind.__module__ == "builtins" else 0


def copy_value(obj: object, cap: int) -> bytes:
    """``obj`` pickled for the sandbox; raises :class:`TooBig` past ``cap`` bytes, or the pickler's
    error (TypeError, PicklingError...) for what cannot be copied."""
    import cloudpickle

    buf = _CappedBuffer(cap)
    cloudpickle.dump(obj, buf, protocol=5)
    return buf.getvalue()


def fingerprint(blob: bytes) -> str:
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


def user_variables(shell: Shell) -> dict[str, Any]:
    """The user's own names: not IPython's, not hidden, not ``_``-prefixed."""
    ns: Mapping[str, Any] = getattr(shell, "user_ns", {}) or {}
    hidden = getattr(shell, "user_ns_hidden", {}) or {}
    return {
        k: v
        for k, v in ns.items()
        if not k.startswith("_") and k not in IPYTHON_NAMES and (k not in hidden or hidden[k] is not v)
    }


def _defining_cell(name: str, cells: Sequence[str]) -> str | None:
    """The last cell that binds ``name`` at its top level."""
    for src in reversed(cells):
        tree = _parse(src)
        if tree is None:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.With | ast.For):
                bound = {
                    n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                }
                if name in bound:
                    return src
            elif name in _node_names(node):
                return src
    return None


def _node_names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        return {node.name}
    return set()


def _free_names(src: str) -> set[str]:
    tree = _parse(src)
    if tree is None:
        return {"<unparsable>"}
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef):
            stored |= _node_names(node)
        if isinstance(node, ast.arg):
            stored.add(node.arg)
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - stored - set(dir(builtins))


def snapshot(
    shell: Shell,
    task: str,
    body: str = "",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    time_limit: float = 5.0,
    max_chars: int = 2400,
    copy: bool = True,
) -> LiveState:
    """Describe the variables ``task`` and ``body`` (and the last cells) refer to; with ``copy``,
    pickle them (and the notebook's small variables, functions and classes) for the sandbox."""
    t0 = time.perf_counter()
    ns = user_variables(shell)
    cells = [src for _, src in history_cells(shell)]
    names = referenced_names(ns, [task, body], cells[-4:])
    description = describe(ns, names, max_chars=max_chars, history=cells)
    aliases = module_aliases(ns)
    data = frozenset(
        k for k, v in ns.items() if not issubclass(type(v), type | types.ModuleType) and not callable(v)
    )
    state = LiveState(description, tuple(names), user_names=frozenset(ns), data_names=data, imports=aliases)
    if not copy:
        return _timed(state, t0)
    wanted = [n for n in names if not isinstance(ns.get(n), types.ModuleType)]
    for name, value in ns.items():  # what a candidate may use without the task naming it
        if len(wanted) >= MAX_COPIED:
            break
        if name in wanted or isinstance(value, types.ModuleType):
            continue
        notebook_defined = (
            isinstance(value, type | types.FunctionType) and getattr(value, "__module__", "") == "__main__"
        )
        if notebook_defined or 0 < estimate_size(value) <= SMALL:
            wanted.append(name)
    blobs: dict[str, bytes] = {}
    skipped: dict[str, str] = {}
    reruns: dict[str, str] = {}
    named = set(names)
    for name in wanted:
        value = ns[name]
        if time.perf_counter() - t0 > time_limit:
            if name in named:
                skipped[name] = f"not copied: copying took longer than {time_limit:g} s"
            continue
        size = estimate_size(value)
        if size > max_bytes:
            skipped[name] = (
                f"{_mb(size)} is over the {_mb(max_bytes)} copy limit (state_max_bytes); described only"
            )
            continue
        try:
            blobs[name] = copy_value(value, max_bytes)
        except TooBig:
            skipped[name] = f"its copy is over the {_mb(max_bytes)} limit (state_max_bytes); described only"
        except Exception as e:
            if name not in named:
                continue  # not asked for: leave it out quietly
            why = f"cannot be copied ({type(e).__name__}: {str(e)[:80]})"
            cell = _defining_cell(name, cells)
            free = _free_names(cell) - set(ns) if cell is not None else set()
            missing = (_free_names(cell) & set(ns)) - set(blobs) - set(aliases) if cell is not None else set()
            if cell is not None and not free and not missing:
                reruns[name] = cell
            else:
                skipped[name] = why + ("; its cell is not self-contained" if cell is not None else "")
    fps = {n: fingerprint(b) for n, b in blobs.items()}
    state = LiveState(
        description,
        tuple(names),
        blobs=blobs,
        fingerprints=fps,
        imports=aliases,
        reruns=reruns,
        skipped=skipped,
        user_names=frozenset(ns),
        data_names=data,
    )
    return _timed(state, t0)


def _timed(state: LiveState, t0: float) -> LiveState:
    from dataclasses import replace

    return replace(state, seconds=time.perf_counter() - t0)


def _mb(n: int) -> str:
    return f"{n / MiB:,.0f} MB" if n >= MiB else f"{n / 1024:,.0f} kB"
