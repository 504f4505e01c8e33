"""Facts about types and a ``repr`` that never runs user code (for :mod:`.livestate`).

Everything is decided on ``type(obj)``; attributes of classes and modules are read through
``type``'s and ``ModuleType``'s descriptors, past any metaclass or module ``__getattr__``.
"""

from __future__ import annotations

import datetime
import inspect
import sys
import types
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Iterator, Mapping
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
