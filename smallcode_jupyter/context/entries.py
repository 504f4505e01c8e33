"""One description entry per kind of live variable (for :mod:`.livestate`): DataFrames, Series,
arrays, containers, text, notebook functions and classes (with their source), instances.
"""

from __future__ import annotations

import ast
import functools
import inspect
import time
import types
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from .saferepr import (
    _CELL_CHARS,
    _CO_COROUTINE,
    _CO_VARARGS,
    _CO_VARKEYWORDS,
    _DICTS,
    _HEAD_COLUMNS,
    _HEAD_ROWS,
    _LINE_MAX,
    _MAX_COLUMNS,
    _SCAN,
    _SOURCE_LINES,
    _callable_name,
    _clip,
    _is_notebook_type,
    _items,
    _lib,
    _repr,
    _scalar_repr,
    _tdict,
    _tget,
    _type_module,
    safe_repr,
    type_name,
)

# --- source of notebook functions and classes -------------------------------------------------


def _strip_magics(source: str) -> str:
    """IPython-only lines (``%time``, ``!ls``, ``%%timeit``) become ``pass`` at their indent, so
    the rest still parses and a block keeps a body."""
    lines = []
    for line in source.splitlines():
        body = line.lstrip()
        if body.startswith(("%", "!")):
            line = line[: len(line) - len(body)] + "pass"
        lines.append(line)
    return "\n".join(lines)


@functools.lru_cache(maxsize=512)
def _parse(source: str) -> ast.Module | None:
    """The cell's AST (magics stripped), or None when it is not Python. Cached: the same history
    cells are parsed on every request."""
    try:
        return ast.parse(_strip_magics(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


class _Sources:
    """Finds the newest history cell that defines a name at top level; parses lazily."""

    def __init__(self, history: Sequence[str]) -> None:
        self.history = history

    def find(self, name: str) -> tuple[ast.stmt | ast.expr, list[str]] | None:
        """(defining node, the cell's lines) for ``def``/``class name`` or ``name = lambda``."""
        for cell in reversed(self.history):
            if name not in cell:
                continue
            tree = _parse(cell)
            if tree is None:
                continue
            for stmt in reversed(tree.body):
                if (
                    isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                    and stmt.name == name
                ):
                    return stmt, _strip_magics(cell).splitlines()
                if (
                    isinstance(stmt, ast.Assign)
                    and isinstance(stmt.value, ast.Lambda)
                    and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets)
                ):
                    return stmt, _strip_magics(cell).splitlines()
        return None


def _node_lines(node: ast.stmt | ast.expr, lines: list[str]) -> list[str]:
    decorators = getattr(node, "decorator_list", [])
    start = min([d.lineno for d in decorators] + [node.lineno]) - 1
    end = node.end_lineno or node.lineno
    return lines[start:end]


def _getsource(obj: Any) -> list[str]:
    """inspect's source of a notebook function or plain class, when it can be had without
    touching user code: ``__wrapped__`` chains are followed here (only through plain functions,
    inspect would ``hasattr`` anything), and classes with a custom metaclass are skipped
    (inspect reads their attributes through the metaclass)."""
    t = type(obj)
    if t is types.FunctionType:
        for _ in range(10):
            inner = obj.__dict__.get("__wrapped__")
            if inner is None:
                break
            if type(inner) is not types.FunctionType:
                return []
            obj = inner
        else:
            return []
    elif t is not type:
        return []
    try:
        return inspect.getsource(obj).splitlines()
    except Exception:  # no file, built in, IPython cell gone: the signature will do
        return []


def _source_block(lines: list[str]) -> list[str]:
    if len(lines) > _SOURCE_LINES:
        more = len(lines) - (_SOURCE_LINES - 1)
        lines = [*lines[: _SOURCE_LINES - 1], f"... ({more} more lines)"]
    return ["  " + line for line in lines]


def _doc_line(doc: Any) -> str:
    if type(doc) is not str:
        return ""
    for line in doc.strip().splitlines():
        if line.strip():
            return _clip(line.strip(), 100)
    return ""


# --- signatures ----------------------------------------------------------------------------


def _annotation(a: Any) -> str:
    t = type(a)
    if t is str:
        return str(a)
    if issubclass(t, type):
        return type_name(a)
    if a is None:
        return "None"
    if _type_module(t) in ("typing", "types"):  # list[int], Optional[str]: the stdlib's repr
        try:
            return repr(a).replace("typing.", "")
        except Exception:
            return "..."
    return safe_repr(a, 30)


def _code_signature(f: types.FunctionType, skip_first: bool = False) -> str:
    """``(x: int, y=2, *args, **kw) -> str`` from the code object; defaults and annotations
    through safe_repr (``inspect.signature`` would repr a user object used as a default)."""
    co = f.__code__
    names = co.co_varnames
    npos, nposonly, nkw = co.co_argcount, co.co_posonlyargcount, co.co_kwonlyargcount
    defaults = f.__defaults__ if type(f.__defaults__) is tuple else ()
    kwdefaults = f.__kwdefaults__ if type(f.__kwdefaults__) is dict else {}
    ann = f.__annotations__ if type(f.__annotations__) is dict else {}

    def param(name: str, has_default: bool, default: Any) -> str:
        text = name
        if name in ann:
            text += ": " + _annotation(ann[name])
        if has_default:
            text += (" = " if name in ann else "=") + safe_repr(default, 40)
        return text

    parts: list[str] = []
    first_default = npos - len(defaults)
    for i in range(npos):
        if not (skip_first and i == 0):
            has = i >= first_default
            parts.append(param(names[i], has, defaults[i - first_default] if has else None))
        if nposonly and i == nposonly - 1 and not (skip_first and nposonly == 1):
            parts.append("/")
    i = npos + nkw
    if co.co_flags & _CO_VARARGS:
        parts.append("*" + param(names[i], False, None))
        i += 1
    elif nkw:
        parts.append("*")
    for name in names[npos : npos + nkw]:
        parts.append(param(name, name in kwdefaults, kwdefaults.get(name)))
    if co.co_flags & _CO_VARKEYWORDS:
        parts.append("**" + param(names[i], False, None))
    ret = f" -> {_annotation(ann['return'])}" if "return" in ann else ""
    return f"({', '.join(parts)}){ret}"


def _ast_signature(node: ast.stmt | ast.expr) -> str | None:
    """The signature exactly as the user wrote it (nothing evaluated)."""
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
        return f"({ast.unparse(node.value.args)})"
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        ret = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
        return f"({ast.unparse(node.args)}){ret}"
    return None


# --- one entry per kind ----------------------------------------------------------------------


def _dtype_str(dtype: Any) -> str:
    mod = _type_module(type(dtype))
    if mod.startswith(("numpy", "pandas")):
        return _clip(str(dtype), 60)
    return type_name(type(dtype))


def _label(x: Any) -> str:
    return str(x) if type(x) is str else safe_repr(x, 40)


def _default_index(index: Any) -> bool:
    return bool(_tget(type(index), "__name__") == "RangeIndex" and index.start == 0 and index.step == 1)


def _index_text(index: Any) -> str:
    text = "index " + (_tget(type(index), "__name__") or "?")
    names = [n for n in index.names if n is not None]
    if names:
        text += " " + ", ".join(safe_repr(n, 30) for n in names)
    return text


def _dataframe(name: str, df: Any, deadline: float) -> list[str]:
    rows, ncols = df.shape
    index = df.index
    lines = [f"{name}: pandas.DataFrame, {rows} rows x {ncols} columns, {_index_text(index)}"]
    columns = list(df.columns[:_MAX_COLUMNS])
    dtypes = list(df.dtypes.iloc[:_MAX_COLUMNS])
    items = [f"{_label(c)} ({_dtype_str(d)})" for c, d in zip(columns, dtypes, strict=False)]
    if ncols > len(items):
        items.append(f"... ({ncols - len(items)} more)")
    rows_of_items: list[list[str]] = [[]]
    for item in items:  # wrapped, not cut: every column name matters to the model
        if rows_of_items[-1] and sum(len(x) + 2 for x in rows_of_items[-1]) + len(item) > _LINE_MAX - 20:
            rows_of_items.append([])
        rows_of_items[-1].append(item)
    lines += [("  columns: " if k == 0 else "    ") + ", ".join(r) for k, r in enumerate(rows_of_items)]
    if rows == 0 or ncols == 0:
        return lines
    n = min(rows, _HEAD_ROWS)
    shown = min(ncols, _HEAD_COLUMNS)
    head = df.iloc[:n, :shown]
    values = []
    for j in range(shown):
        if time.perf_counter() > deadline:
            return lines
        values.append(head.iloc[:, j].tolist())
    labels = None if _default_index(index) else index[:n].tolist()
    lines.append("  head:")
    for r in range(n):
        cells = ", ".join(
            f"{_label(columns[j])}={safe_repr(values[j][r], _CELL_CHARS)}" for j in range(shown)
        )
        if ncols > shown:
            cells += ", ..."
        prefix = f"[{safe_repr(labels[r], _CELL_CHARS)}] " if labels is not None else ""
        lines.append(f"    {prefix}{cells}")
    return lines


def _series(name: str, s: Any) -> list[str]:
    title = f" {safe_repr(s.name, 40)}" if s.name is not None else ""
    index = s.index
    line = f"{name}: pandas.Series{title}, {len(index)} values, dtype {_dtype_str(s.dtype)}"
    if not _default_index(index):
        line += f", {_index_text(index)}"
    if len(index):
        n = min(len(index), 5 if len(index) <= 5 else _HEAD_ROWS)
        vals = s.iloc[:n].tolist()
        if _default_index(index):
            sample = ", ".join(safe_repr(v, _CELL_CHARS) for v in vals)
        else:
            labels = index[:n].tolist()
            sample = ", ".join(
                f"{safe_repr(k, _CELL_CHARS)}: {safe_repr(v, _CELL_CHARS)}"
                for k, v in zip(labels, vals, strict=False)
            )
        line += f", e.g. {sample}" + (", ..." if len(index) > n else "")
    return [line]


def _ndarray(name: str, arr: Any, np_ndarray: Any) -> list[str]:
    """Never copies: only views, ``flat[:5]`` (five elements) and min/max of small arrays."""
    base = np_ndarray.view(arr, np_ndarray)  # past any subclass's overrides, no copy
    size = base.size
    line = f"{name}: {type_name(type(arr))}, shape {tuple(base.shape)}, dtype {_dtype_str(base.dtype)}"
    kind = base.dtype.kind
    if size == 0:
        return [line + ", empty"]
    if kind in "mM":  # tolist() of datetime64[ns] gives ints: show numpy's own text
        values = [f"'{v}'" for v in base.flat[:5]]
        return [line + ", e.g. " + ", ".join(values) + (", ..." if size > 5 else "")]
    if size <= 20:
        return [line + ", " + safe_repr(base.tolist(), 300)]
    first = ", ".join(safe_repr(v, 30) for v in base.flat[:5].tolist())
    line += f", e.g. [{first}, ...]"
    if kind in "iuf" and size <= 100_000:  # a full pass is only cheap on small arrays
        try:
            lo, hi = base.min(), base.max()
            if lo == lo and hi == hi:  # NaN-free
                line += f", min {safe_repr(lo, 30)}, max {safe_repr(hi, 30)}"
        except Exception:
            pass
    return [line]


def _type_summary(values: Iterable[Any]) -> str:
    seen: dict[str, None] = {}
    for v in values:
        seen[type_name(type(v))] = None
    names = list(seen)
    if len(names) > 3:
        return "|".join(names[:3]) + "|..."
    return "|".join(names)


_KIND: dict[Any, str] = {
    list: "list",
    tuple: "tuple",
    set: "set",
    frozenset: "frozenset",
    deque: "collections.deque",
    dict: "dict",
    OrderedDict: "collections.OrderedDict",
    Counter: "collections.Counter",
    defaultdict: "collections.defaultdict",
}


def _container(name: str, obj: Any, t: Any) -> list[str]:
    n = len(obj)
    kind = _KIND[t]
    if t is defaultdict:
        factory = obj.default_factory
        kind += f" (default {_callable_name(factory) if factory is not None else None})"
    if n == 0:
        return [f"{name}: {kind}, empty"]
    if t in _DICTS:
        items = list(islice(_items(obj, t), _SCAN))
        head = f"{name}: {kind} of {n} {_type_summary(k for k, _ in items)} -> {_type_summary(v for _, v in items)}"
    else:
        head = f"{name}: {kind} of {n} {_type_summary(islice(t.__iter__(obj), _SCAN))}"
    whole, complete = _repr(obj, 240)
    if complete:
        return [f"{head}; {whole}"]
    if t in _DICTS:
        keys = ", ".join(safe_repr(k, 30) for k, _ in islice(_items(obj, t), 20))
        sample = ", ".join(f"{safe_repr(k, 40)}: {safe_repr(v, 120)}" for k, v in islice(_items(obj, t), 2))
        return [f"{head}; e.g. {sample}", f"  keys: {keys}" + (", ..." if n > 20 else "")]
    sample = ", ".join(safe_repr(x, 120) for x in islice(t.__iter__(obj), 2))
    return [f"{head}; e.g. {sample}"]


def _text(name: str, obj: Any, t: type) -> list[str]:
    unit = "chars" if t is str else "bytes"
    return [f"{name}: {type_name(t)}, {len(obj)} {unit}, {safe_repr(obj, 100)}"]


def _function(name: str, f: types.FunctionType, sources: _Sources) -> list[str]:
    module = f.__module__
    fname = f.__name__ if type(f.__name__) is str else name
    if module != "__main__":
        where = f"function from {module}" if type(module) is str else "function"
        return [f"{name}{_code_signature(f)}  # {where}"]
    found = sources.find(name if fname == "<lambda>" else fname)
    node, lines = found if found is not None else (None, _getsource(f))
    sig = (_ast_signature(node) if node is not None else None) or _code_signature(f)
    prefix = "async " if f.__code__.co_flags & _CO_COROUTINE else ""
    also = f" (as {fname})" if fname not in (name, "<lambda>") else ""
    doc = _doc_line(f.__doc__)
    head = f"{prefix}{name}{sig}  # function defined in the notebook{also}" + (
        f': """{doc}"""' if doc else ""
    )
    body = _node_lines(node, lines) if node is not None else lines
    return [head, *_source_block(body)]


def _class(name: str, cls: type, sources: _Sources) -> list[str]:
    if not _is_notebook_type(cls):
        return [f"{name}: class {type_name(cls)}"]
    d = _tdict(cls)
    mro = _tget(cls, "__mro__")
    bases = [type_name(b) for b in (mro[1:] if type(mro) is tuple else ()) if b is not object]
    parts = ["class defined in the notebook"]
    if bases:
        parts[0] += f" (bases {', '.join(bases[:3])})"
    init = d.get("__init__")
    if type(init) is types.FunctionType:
        parts.append(f"{name}{_code_signature(init, skip_first=True)}".removesuffix(" -> None"))
    fields = d.get("__dataclass_fields__")
    if type(fields) is not dict:
        fields = d.get("__annotations__")
    if type(fields) is dict and fields:
        parts.append("fields: " + ", ".join(k for k in fields if type(k) is str))
    methods = [
        k
        for k, v in d.items()
        if type(k) is str
        and not k.startswith("_")
        and type(v) in (types.FunctionType, staticmethod, classmethod, property)
    ]
    if methods:
        parts.append("methods: " + ", ".join(methods))
    doc = _doc_line(d.get("__doc__"))
    if doc and not doc.startswith(name + "("):  # a dataclass's generated doc repeats the signature
        parts.append(f'"""{doc}"""')
    found = sources.find(_tget(cls, "__name__") or name)
    body = _node_lines(found[0], found[1]) if found is not None else _getsource(cls)
    return [f"{name}: " + "; ".join(parts), *_source_block(body)]


def _instance_dict(obj: Any) -> dict[str, Any] | None:
    """The instance ``__dict__`` through the class's own slot descriptor: no ``__getattribute__``,
    ``__getattr__`` or property of the user's runs."""
    mro = _tget(type(obj), "__mro__")
    for klass in mro if type(mro) is tuple else ():
        descr = _tdict(klass).get("__dict__")
        if descr is None:
            continue
        if type(descr) is not types.GetSetDescriptorType:
            return None
        try:
            d = descr.__get__(obj, type(obj))
        except Exception:
            return None
        return d if type(d) is dict else None
    return None


def _instance(name: str, obj: Any, t: type) -> list[str]:
    line = f"{name}: {type_name(t)} instance (class defined in the notebook)"
    attrs = _instance_dict(obj)
    if attrs:
        public = [(k, v) for k, v in attrs.items() if type(k) is str and not k.startswith("__")]
        shown = [f"{k}={safe_repr(v, 40)}" for k, v in public[:8]]
        if shown:
            line += "; " + ", ".join(shown) + (", ..." if len(public) > 8 else "")
    return [line]


def _entry(name: str, obj: Any, sources: _Sources, deadline: float) -> list[str]:
    t = type(obj)
    if t is _lib("pandas", "DataFrame"):
        return _dataframe(name, obj, deadline)
    if t is _lib("pandas", "Series"):
        return _series(name, obj)
    np_ndarray = _lib("numpy", "ndarray")
    if np_ndarray is not None and issubclass(t, np_ndarray):
        return _ndarray(name, obj, np_ndarray)
    if t in (str, bytes, bytearray):
        return _text(name, obj, t)
    if t in _KIND:
        return _container(name, obj, t)
    if obj is None:
        return [f"{name}: None"]
    scalar = _scalar_repr(obj, t, 100)
    if scalar is not None:
        return [f"{name}: {type_name(t)}, {scalar}"]
    if t is types.FunctionType:
        return _function(name, obj, sources)
    if t is types.BuiltinFunctionType:
        module = obj.__module__
        where = f" from {module}" if type(module) is str else ""
        return [f"{name}: builtin function{where}"]
    if issubclass(t, type):
        return _class(name, obj, sources)
    if _is_notebook_type(t):
        return _instance(name, obj, t)
    return [f"{name}: {type_name(t)} (not described)"]
