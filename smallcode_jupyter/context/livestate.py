"""The notebook's live variables as context: a short, budgeted text the model reads.

A small model invents data it cannot see (``sales = [{'amount': 100, ...}]`` over the user's real
list), so the loop shows it the variables a request refers to: a DataFrame's columns and first
rows, a list's element types and two items, a helper's signature and source.

This runs inside the user's kernel, on the user's objects, so it must never run user code: no
``repr``/``str``/``len``/iteration/attribute access that could reach a method the user defined.
Everything is decided on ``type(obj)`` (which ``__class__`` tricks cannot fake), builtin
containers are walked with their own (exact-type) methods, pandas and numpy objects are read
only when their type is the library's own, and attributes of classes and modules are read
through ``type``'s and ``ModuleType``'s descriptors, past any metaclass. Anything else is shown
by its type name. pandas and numpy are never imported here: if the user has not imported them,
no object of theirs can be in the namespace.
"""

from __future__ import annotations

import ast
import datetime
import functools
import inspect
import re
import sys
import time
import types
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

MAX_NAMES = 12  # more than this is noise for a 0.5B model and eats the prompt
IPYTHON_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})
# English words that are also common one-letter/short variable names: "make a dict" must not make
# the variable ``a`` the most relevant one. They still count, after everything else.
_STOPWORD_TEXT = "a an the in of to and or is it for by on with as at from be i if not no all any"
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SCAN = 200  # elements looked at to name a container's element types
_SOURCE_LINES = 15  # lines of a notebook function's or class's source
_HEAD_ROWS = 3
_MAX_COLUMNS = 40  # columns listed for a DataFrame
_HEAD_COLUMNS = 12  # columns shown in head rows
_CELL_CHARS = 40  # one DataFrame cell value (a Timestamp needs 32)
_LINE_MAX = 240  # any line after an entry's first
_MIN_ENTRY = 60  # what each later name is promised, so an early big entry cannot starve it
_NOTE_RESERVE = 90  # room kept for the "more names not described" note
_MODULES_MAX = 300
_NESTED_SCALAR = 60  # a string inside a container: its start says enough

_type_attr = {k: type.__dict__[k] for k in ("__name__", "__qualname__", "__module__", "__dict__", "__mro__")}
_module_dict_of = vars(types.ModuleType)["__dict__"]
_CO_VARARGS, _CO_VARKEYWORDS, _CO_COROUTINE = inspect.CO_VARARGS, inspect.CO_VARKEYWORDS, inspect.CO_COROUTINE


# --- type and module facts, read past metaclasses and module __getattr__ -----------------------


def _tget(t: type, attr: str) -> Any:
    """``t.<attr>`` through ``type``'s own descriptor: a metaclass cannot intercept it."""
    try:
        return _type_attr[attr].__get__(t, type)
    except Exception:
        return None


def _tdict(t: type) -> Mapping[str, Any]:
    d = _tget(t, "__dict__")
    return d if type(d) is types.MappingProxyType else {}


def _is_module(obj: object) -> bool:
    return issubclass(type(obj), types.ModuleType)


def _module_dict(mod: object) -> dict[str, Any]:
    try:
        d = _module_dict_of.__get__(mod, types.ModuleType)
    except Exception:
        return {}
    return d if type(d) is dict else {}


def _module_name(mod: object) -> str | None:
    name = _module_dict(mod).get("__name__")
    return name if type(name) is str else None


def _lib(name: str, attr: str) -> Any:
    """``name.attr`` when the user's kernel has imported ``name``; never imports it."""
    mod = sys.modules.get(name)
    return _module_dict(mod).get(attr) if mod is not None else None


def _type_module(t: type) -> str:
    m = _tget(t, "__module__")
    return m if type(m) is str else ""


def type_name(t: type) -> str:
    """Short readable name of a type: ``int``, ``Point`` (notebook), ``pandas.DataFrame``."""
    q = _tget(t, "__qualname__")
    q = q if type(q) is str else "?"
    m = _type_module(t)
    if m in ("", "builtins", "__main__"):
        return q
    top = m.split(".", 1)[0]
    if top != m and top in sys.modules and _lib(top, q) is t:
        return f"{top}.{q}"  # pandas.core.frame.DataFrame -> pandas.DataFrame
    return f"{m}.{q}"


def _is_notebook_type(t: type) -> bool:
    return _type_module(t) == "__main__"


def _clip(s: str, n: int) -> str:
    if len(s) <= n:
        return s
    return s[: max(n - 3, 0)] + "..." if n >= 3 else s[:n]


# --- safe_repr -----------------------------------------------------------------------------


class _Full(Exception):
    """The output reached its limit: stop walking the object."""


class _Out:
    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.n = 0
        self.limit = limit

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.n += len(s)
        if self.n > self.limit:
            raise _Full


_TZ_MODULES = ("datetime", "zoneinfo", "pytz", "dateutil")


def _pandas_scalar_types() -> tuple[Any, ...]:
    """pandas scalars whose repr is pandas' own: Timestamp, Timedelta, Period, NaT, NA."""
    found = [_lib("pandas", n) for n in ("Timestamp", "Timedelta", "Period")]
    found += [type(_lib("pandas", n)) for n in ("NaT", "NA") if _lib("pandas", n) is not None]
    return tuple(t for t in found if t is not None)


def _known_tz(tz: object) -> bool:
    return tz is None or _type_module(type(tz)).split(".", 1)[0] in _TZ_MODULES


def _scalar_repr(obj: Any, t: type, limit: int) -> str | None:
    """repr of a value whose type (exact) is a builtin or well-known library scalar, else None."""
    if obj is None or t in (bool, float, complex):
        return repr(obj)
    if t is int:
        bits = obj.bit_length()
        return repr(obj) if bits <= 200 else f"<int of {bits} bits>"
    if t is str or t is bytes or t is bytearray:
        return repr(obj) if len(obj) <= limit else repr(obj[:limit]) + "..."
    if t in (datetime.date, datetime.timedelta):
        return repr(obj)
    if t in (datetime.datetime, datetime.time):
        return repr(obj) if _known_tz(obj.tzinfo) else f"<{type_name(t)} with tzinfo>"
    if t is _lib("decimal", "Decimal") or t is _lib("fractions", "Fraction"):
        return repr(obj)
    pathlib = sys.modules.get("pathlib")
    if pathlib is not None and t in (
        _lib("pathlib", "PosixPath"),
        _lib("pathlib", "WindowsPath"),
        _lib("pathlib", "PurePosixPath"),
        _lib("pathlib", "PureWindowsPath"),
    ):
        return repr(obj)
    module = _type_module(t)
    if module.startswith("numpy"):
        generic = _lib("numpy", "generic")
        if generic is not None and issubclass(t, generic):
            return _numpy_scalar_repr(obj, t, limit)
    if "pandas" in sys.modules and t in _pandas_scalar_types():
        if t is _lib("pandas", "Timestamp") and not _known_tz(obj.tzinfo):
            return "<pandas.Timestamp with tzinfo>"
        return repr(obj)
    return None


def _numpy_scalar_repr(obj: Any, t: type, limit: int) -> str:
    name = _tget(t, "__name__")
    if name in ("datetime64", "timedelta64"):
        return f"np.{name}('{obj}')"
    try:
        value = obj.item()
    except Exception:
        return f"<{type_name(t)}>"
    if type(value) is t:  # longdouble and friends have no Python equivalent
        return str(obj)
    return safe_repr(value, limit)


_OPEN_CLOSE: dict[Any, tuple[str, str]] = {
    list: ("[", "]"),
    tuple: ("(", ")"),
    set: ("{", "}"),
    frozenset: ("frozenset({", "})"),
    deque: ("deque([", "])"),
    dict: ("{", "}"),
    OrderedDict: ("OrderedDict({", "})"),
    Counter: ("Counter({", "})"),
    defaultdict: ("defaultdict(", "})"),
}
_DICTS = (dict, OrderedDict, Counter, defaultdict)


def _items(obj: Any, t: Any) -> Iterator[tuple[Any, Any]]:
    """Items of a dict-like of exact type ``t``, through the type (an instance attribute named
    ``items`` on a Counter must not be called)."""
    return iter(t.items(obj))


def _emit(obj: Any, out: _Out, depth: int, stack: set[int]) -> None:
    t: Any = type(obj)
    s = _scalar_repr(obj, t, out.limit if depth == 0 else min(out.limit, _NESTED_SCALAR))
    if s is not None:
        out.add(s)
        return
    brackets = _OPEN_CLOSE.get(t)
    if brackets is None:
        out.add(f"<{type_name(t)}>")
        return
    opening, closing = brackets
    if depth >= 4 or id(obj) in stack:
        out.add(opening + "..." + closing)
        return
    if t is set and not obj:
        out.add("set()")
        return
    stack.add(id(obj))
    if t is defaultdict:
        factory = obj.default_factory
        out.add(opening + (_callable_name(factory) if factory is not None else "None") + ", {")
    else:
        out.add(opening)
    if t in _DICTS:
        for i, (k, v) in enumerate(_items(obj, t)):
            if i:
                out.add(", ")
            _emit(k, out, depth + 1, stack)
            out.add(": ")
            _emit(v, out, depth + 1, stack)
    else:
        for i, x in enumerate(t.__iter__(obj)):
            if i:
                out.add(", ")
            _emit(x, out, depth + 1, stack)
        if t is tuple and len(obj) == 1:
            out.add(",")
    out.add(closing)
    stack.discard(id(obj))


def _repr(obj: Any, limit: int) -> tuple[str, bool]:
    """(text, complete): ``complete`` is False when the limit cut it."""
    out = _Out(limit)
    try:
        _emit(obj, out, 0, set())
    except _Full:
        return _clip("".join(out.parts), limit), False
    except Exception:  # a library scalar misbehaving; never let it break the description
        return f"<{type_name(type(obj))}>", True
    return "".join(out.parts), True


def safe_repr(obj: Any, limit: int = 80) -> str:
    """A repr that runs no user code: builtin scalars, well-known library scalars (numpy,
    datetime, Decimal, pandas Timestamp/NA) and builtin containers (exact types, walked
    recursively); anything else is ``<TypeName>``. At most ``limit`` characters (cut with
    ``...``), and the walk stops there, so a list of a million items costs what it shows."""
    return _repr(obj, limit)[0]


def _callable_name(f: Any) -> str:
    t = type(f)
    if issubclass(t, type):
        return type_name(f)
    if t in (types.FunctionType, types.BuiltinFunctionType):
        name = f.__name__
        return name if type(name) is str else "<function>"
    return f"<{type_name(t)}>"


# --- referenced_names ----------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BACKTICK = re.compile(r"`([^`\n]+)`")
_CONTRACTION_TAILS = frozenset({"s", "t", "d", "m", "ll", "re", "ve"})


def _eligible(name: str, ns: Mapping[str, Any]) -> bool:
    return name in ns and not name.startswith("_") and name not in IPYTHON_NAMES and not _is_module(ns[name])


def _words(text: str) -> Iterator[str]:
    for m in _WORD.finditer(text):
        w = m.group()
        if w in _CONTRACTION_TAILS and m.start() > 0 and text[m.start() - 1] in "'\u2019":
            continue  # "df's" -> df, not s
        yield w


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


def _cell_names(tree: ast.Module) -> list[str]:
    """Every name a cell loads, stores or defines, in source order."""
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.append((node.lineno, node.col_offset, node.id))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((node.lineno, node.col_offset, node.name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                found.append((node.lineno, node.col_offset, (alias.asname or alias.name).split(".")[0]))
    return [name for _, _, name in sorted(found, key=lambda f: (f[0], f[1]))]


def _target_names(target: ast.expr) -> Iterator[str]:
    """The variable an assignment binds or changes: ``x``, ``a, b``, ``df['c']`` -> df."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from _target_names(elt)
    elif isinstance(target, (ast.Starred, ast.Subscript, ast.Attribute)):
        yield from _target_names(target.value)


def _defined_at_top(tree: ast.Module) -> list[str]:
    """Names a cell binds at top level, last binding last."""
    names: list[str] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                names.extend(_target_names(target))
        elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
            names.extend(_target_names(stmt.target))
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(stmt.name)
    return names


def _code_globals(code: types.CodeType, depth: int = 0) -> Iterator[str]:
    """Global names a function's code may read, including its comprehensions and inner functions."""
    yield from code.co_names
    if depth < 3:
        for const in code.co_consts:
            if type(const) is types.CodeType:
                yield from _code_globals(const, depth + 1)


def _dependencies(obj: Any) -> list[str]:
    """Globals a notebook-defined function (or the methods of a notebook class) uses."""
    t = type(obj)
    funcs: list[types.FunctionType] = []
    if t is types.FunctionType and obj.__module__ == "__main__":
        funcs.append(obj)
    elif issubclass(t, type) and _is_notebook_type(obj):
        for value in _tdict(obj).values():
            vt = type(value)
            if vt is staticmethod or vt is classmethod:
                value = value.__func__
            if type(value) is types.FunctionType:
                funcs.append(value)
    out: list[str] = []
    for f in funcs:
        out.extend(_code_globals(f.__code__))
    return out


def referenced_names(
    ns: Mapping[str, Any],
    texts: Sequence[str],
    recent_cells: Sequence[str] = (),
    max_recent_defined: int = 3,
) -> list[str]:
    """User variables worth describing for a request, most relevant first.

    Order: names in backticks, then other identifiers of ``texts`` (the task line, the cell
    body) that are variables; the ``max_recent_defined`` names bound most recently at top level of
    ``recent_cells`` (oldest first); the other names those cells use, newest cell first; words
    like "a" or "in" that happen to be variables. Each notebook function or class is followed by
    the globals it uses (one level). Modules, ``_`` names and IPython's own names are left out.
    """
    quoted: list[str] = []
    plain: list[str] = []
    stop: list[str] = []
    for text in texts:
        for m in _BACKTICK.finditer(text):
            quoted.extend(_WORD.findall(m.group(1)))
        for w in _words(text):
            (stop if w.lower() in _STOPWORDS else plain).append(w)
    trees = [tree for tree in (_parse(cell) for cell in recent_cells) if tree is not None]
    recent_defined: list[str] = []
    for tree in reversed(trees):
        for name in reversed(_defined_at_top(tree)):
            if _eligible(name, ns) and name not in recent_defined:
                recent_defined.append(name)
    recent_defined = recent_defined[: max(max_recent_defined, 0)]
    used = [name for tree in reversed(trees) for name in _cell_names(tree)]

    primary = [n for n in dict.fromkeys([*quoted, *plain, *recent_defined, *used, *stop]) if _eligible(n, ns)]
    out: list[str] = []
    for name in primary:
        for n in (name, *_dependencies(ns[name])):
            if n not in out and _eligible(n, ns):
                out.append(n)
        if len(out) >= MAX_NAMES:
            break
    return out[:MAX_NAMES]


def module_aliases(ns: Mapping[str, Any]) -> dict[str, str]:
    """alias -> module name for the modules in the namespace (``pd`` -> ``pandas``)."""
    out: dict[str, str] = {}
    for alias, value in ns.items():
        if type(alias) is not str or alias.startswith("_") or alias in IPYTHON_NAMES:
            continue
        if _is_module(value):
            out[alias] = _module_name(value) or alias
    return out


# --- source of notebook functions and classes -------------------------------------------------


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


def _fit(lines: list[str], allowance: int) -> list[str]:
    """The entry's first line (clipped) and as many of the rest as fit in ``allowance`` chars."""
    out = [_clip(lines[0], allowance)] if lines else []
    used = len(out[0]) if out else 0
    for line in lines[1:]:
        line = _clip(line, _LINE_MAX)
        if used + 1 + len(line) > allowance:
            if used + 1 + len("  ...") <= allowance:
                out.append("  ...")
            break
        out.append(line)
        used += 1 + len(line)
    return out


def _modules_line(ns: Mapping[str, Any], limit: int) -> str:
    mods = module_aliases(ns)
    if not mods:
        return ""
    text = "modules: " + ", ".join(a if a == m else f"{a} = {m}" for a, m in mods.items())
    return _clip(text, limit)


def describe(
    ns: Mapping[str, Any],
    names: Sequence[str],
    max_chars: int = 2400,
    time_limit: float = 0.5,
    history: Sequence[str] = (),
) -> str:
    """Describe ``names`` of ``ns`` for the model, one entry each, then the modules line.

    At most ``max_chars`` characters (about 4 a token): each name is promised a first line, so a
    big early entry is cut rather than the names after it; past ``time_limit`` seconds the rest
    are listed as not described. ``history`` (cell sources, oldest first) supplies the source of
    notebook functions and classes. Runs no user code (see the module docstring).
    """
    deadline = time.perf_counter() + time_limit
    modules = _modules_line(ns, min(_MODULES_MAX, max_chars // 4))
    budget = max_chars - (len(modules) + 1 if modules else 0)
    todo = [n for n in dict.fromkeys(names) if not (n in ns and _is_module(ns[n]))]
    sources = _Sources(history)
    out: list[str] = []
    used = 0
    for i, name in enumerate(todo):
        after = len(todo) - i - 1
        left = budget - used - (1 if out else 0)
        allowance = min(
            max(left - after * _MIN_ENTRY, _MIN_ENTRY),
            max(max_chars // 2, _MIN_ENTRY),
            left - (_NOTE_RESERVE if after else 0),
        )
        reason = "time limit" if time.perf_counter() > deadline else "size limit" if allowance < 30 else ""
        if reason:
            note = f"... (more names not described: {reason}: {', '.join(todo[i:])})"
            note = _clip(note, min(_NOTE_RESERVE, max(left, 0)))
            if note:
                out.append(note)
            break
        if name not in ns:
            lines = [f"{name}: not defined"]
        else:
            try:
                lines = _entry(name, ns[name], sources, deadline)
            except Exception as exc:  # a library object in a state we did not foresee
                lines = [f"{name}: {type_name(type(ns[name]))} (not described: {type_name(type(exc))})"]
        entry = _fit(lines, allowance)
        out.extend(entry)
        used = len("\n".join(out))
    if modules:
        out.append(modules)
    return "\n".join(out)
