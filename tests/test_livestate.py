"""Live state as context: what the model is told about the user's variables, and that telling it
never runs the user's code (reprs that raise or hang, huge arrays, odd objects in containers)."""

from __future__ import annotations

import collections
import datetime
import decimal
import textwrap
import tracemalloc
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from smallcode_jupyter.context.livestate import describe, module_aliases, referenced_names, safe_repr

SETUP = textwrap.dedent('''\
    RATE = 0.2

    def tax(price: float, rate: float = 0.2) -> float:
        """Tax on a price.

        More text that is not the first line.
        """
        return round(price * RATE, 2)

    class Point:
        """A point on the plane."""

        def __init__(self, x: int, y: int = 0):
            self.x, self.y = x, y

        def dist(self) -> float:
            return (self.x**2 + self.y**2) ** 0.5

    p = Point(3, 4)
    ''')


def notebook(*cells: str, **values: Any) -> dict[str, Any]:
    """A namespace as a notebook leaves it: cells run as ``__main__``, plus ready-made values."""
    ns: dict[str, Any] = {
        "__name__": "__main__",
        "__builtins__": __builtins__,
        "In": [],
        "Out": {},
        "_": None,
    }
    ns.update(values)
    for cell in cells:
        exec(compile(cell, "<cell>", "exec"), ns)
    return ns


class Tripwire:
    """Records any special method Python might call on it once armed; ``__repr__`` also hangs
    (10 s) and ``__str__`` raises. The assertions are on the record, not on time."""

    armed = False
    calls: list[str] = []  # noqa: RUF012 -- shared on purpose: any instance tripping counts

    def _hit(self, what: str) -> None:
        if Tripwire.armed:
            Tripwire.calls.append(what)

    def __repr__(self) -> str:
        self._hit("__repr__")
        if Tripwire.armed:
            import time

            time.sleep(10)
        return "Tripwire()"

    def __str__(self) -> str:
        self._hit("__str__")
        raise RuntimeError("str called")

    def __format__(self, spec: str) -> str:
        self._hit("__format__")
        raise RuntimeError("format called")

    def __len__(self) -> int:
        self._hit("__len__")
        return 3

    def __iter__(self) -> Iterator[int]:
        self._hit("__iter__")
        return iter([1, 2, 3])

    def __getattr__(self, name: str) -> Any:
        self._hit(f"__getattr__({name})")
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        self._hit("__eq__")
        return self is other

    def __hash__(self) -> int:
        self._hit("__hash__")
        return id(self)

    def __bool__(self) -> bool:
        self._hit("__bool__")
        return True

    def __lt__(self, other: object) -> bool:
        self._hit("__lt__")
        return False

    @property
    def __class__(self) -> type:  # type: ignore[override]
        self._hit("__class__")
        return list


@pytest.fixture
def tripwire() -> Iterator[type[Tripwire]]:
    Tripwire.calls = []
    Tripwire.armed = False
    yield Tripwire
    Tripwire.armed = False


# --- each kind of description ----------------------------------------------------------------


def test_dataframe_shape_columns_dtypes_and_head() -> None:
    df = pd.DataFrame(
        {
            "name": ["Ann", "Bo", "Cy", "Di"],
            "age": [34, 19, 52, 7],
            "city": ["Oslo", "Bergen", "Oslo", "x" * 80],
        }
    )
    text = describe({"df": df}, ["df"])
    lines = text.splitlines()
    assert lines[0] == "df: pandas.DataFrame, 4 rows x 3 columns, index RangeIndex"
    assert lines[1].startswith("  columns: name (")
    assert "age (int64)" in lines[1]
    assert lines[2] == "  head:"
    assert lines[3] == "    name='Ann', age=34, city='Oslo'"
    assert lines[4] == "    name='Bo', age=19, city='Bergen'"
    assert len(lines) == 6  # three head rows, the fourth is not shown
    assert "Di" not in text


def test_dataframe_with_labelled_index_long_cells_and_many_columns() -> None:
    df = pd.DataFrame({f"c{i}": [i, i + 1] for i in range(60)}, index=pd.Index(["a", "b"], name="key"))
    df["text"] = ["y" * 100, "short"]
    text = describe({"wide": df}, ["wide"], max_chars=5000)
    assert "2 rows x 61 columns, index Index 'key'" in text
    assert "... (21 more)" in text  # columns listed up to 40
    assert "    ['a'] c0=0, c1=1," in text
    assert "y" * 40 not in text  # a cell is cut at ~30 chars


def test_dataframe_cells_of_special_types() -> None:
    df = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=3),
            "n": pd.array([1, None, 3], dtype="Int64"),
            "f": [1.5, float("nan"), 2.0],
            "cat": pd.Categorical(["a", "b", "a"]),
        }
    )
    text = describe({"df": df}, ["df"])
    assert "when=Timestamp('2024-01-01 00:00:00')" in text
    assert "n=<NA>" in text
    assert "f=nan" in text
    assert "cat (category)" in text


def test_empty_dataframe() -> None:
    text = describe({"df": pd.DataFrame({"a": []})}, ["df"])
    assert text.startswith("df: pandas.DataFrame, 0 rows x 1 columns")
    assert "head" not in text


def test_series_plain_and_with_index() -> None:
    df = pd.DataFrame({"age": [34, 19, 52, 7, 80, 12], "city": ["Oslo", "Bergen", "Oslo", "Oslo", "A", "B"]})
    text = describe({"s": df["age"], "counts": df["city"].value_counts()}, ["s", "counts"])
    assert "s: pandas.Series 'age', 6 values, dtype int64, e.g. 34, 19, 52, ..." in text
    assert "counts: pandas.Series 'count', 4 values, dtype int64, index Index 'city', e.g. 'Oslo': 3" in text


def test_ndarray_small_whole_and_large_sampled() -> None:
    ns = {"m": np.arange(9).reshape(3, 3), "v": np.linspace(0, 1, 1000), "e": np.array([])}
    text = describe(ns, ["m", "v", "e"])
    assert "m: numpy.ndarray, shape (3, 3), dtype int64, [[0, 1, 2], [3, 4, 5], [6, 7, 8]]" in text
    assert "v: numpy.ndarray, shape (1000,), dtype float64, e.g. [0.0, 0.001001001001001001," in text
    assert "min 0.0, max 1.0" in text
    assert "e: numpy.ndarray, shape (0,), dtype float64, empty" in text


def test_ndarray_datetime_and_object() -> None:
    ns = {
        "d": np.array(["2024-01-01", "2024-02-01"], dtype="datetime64[ns]"),
        "o": np.array([{"a": 1}, None]),
    }
    text = describe(ns, ["d", "o"])
    assert "'2024-01-01T00:00:00.000000000'" in text
    assert "o: numpy.ndarray, shape (2,), dtype object, [{'a': 1}, None]" in text


def test_huge_array_is_described_without_copying() -> None:
    """2 GB of float64 that do not exist (a broadcast view): any copy would show up as an
    allocation of gigabytes (numpy reports its buffers to tracemalloc) or fail outright."""
    huge = np.broadcast_to(np.zeros(1), (2**14, 2**14))
    real = np.zeros((20000, 20000), dtype=np.uint8)[::2]  # 400 MB, and a non-contiguous view of it
    tracemalloc.start()
    try:
        text = describe({"huge": huge, "real": real}, ["huge", "real"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (
        "huge: numpy.ndarray, shape (16384, 16384), dtype float64, e.g. [0.0, 0.0, 0.0, 0.0, 0.0, ...]"
        in text
    )
    assert "real: numpy.ndarray, shape (10000, 20000), dtype uint8" in text
    assert "min" not in text  # no full pass over big arrays
    assert peak < 5_000_000


def test_containers_lengths_element_types_and_samples() -> None:
    sales = [{"amount": 100, "region": "north"}, {"amount": 250, "region": "south"}]
    many = [{"amount": i, "region": "r" * 30} for i in range(50)]
    ns = {
        "sales": sales,
        "many": many,
        "mixed": (1, "a", 2.5),
        "tags": {"x"},
        "prices": {"apple": 1, "pear": 2, "fig": 3},
        "big": {f"k{i}": i for i in range(100)},
        "counts": collections.Counter("abracadabra"),
        "groups": collections.defaultdict(list, {"a": [1]}),
        "queue": collections.deque([1, 2]),
        "nothing": [],
    }
    text = describe(ns, list(ns), max_chars=6000)
    assert (
        "sales: list of 2 dict; [{'amount': 100, 'region': 'north'}, {'amount': 250, 'region': 'south'}]"
        in text
    )
    assert "many: list of 50 dict; e.g. {'amount': 0, 'region': 'rrr" in text
    assert "mixed: tuple of 3 int|str|float; (1, 'a', 2.5)" in text
    assert "tags: set of 1 str; {'x'}" in text
    assert "prices: dict of 3 str -> int; {'apple': 1, 'pear': 2, 'fig': 3}" in text
    assert "big: dict of 100 str -> int; e.g. 'k0': 0, 'k1': 1\n  keys: 'k0', 'k1'," in text
    assert "counts: collections.Counter of 5 str -> int; Counter({'a': 5," in text
    assert (
        "groups: collections.defaultdict (default list) of 1 str -> list; defaultdict(list, {'a': [1]})"
        in text
    )
    assert "queue: collections.deque of 2 int; deque([1, 2])" in text
    assert "nothing: list, empty" in text


def test_text_scalars_and_other_objects() -> None:
    import sqlite3

    conn = sqlite3.connect(":memory:")
    ns = {
        "name": "hello world!",
        "blob": b"\x00" * 500,
        "n": 42,
        "flag": True,
        "none": None,
        "price": decimal.Decimal("1.50"),
        "day": datetime.date(2024, 1, 2),
        "f32": np.float32(1.5),
        "ts": pd.Timestamp("2024-01-01"),
        "conn": conn,
        "gen": (i for i in range(3)),
    }
    text = describe(ns, list(ns), max_chars=6000)
    conn.close()
    assert "name: str, 12 chars, 'hello world!'" in text
    assert "blob: bytes, 500 bytes, b'\\x00" in text
    assert "n: int, 42" in text
    assert "flag: bool, True" in text
    assert "none: None" in text
    assert "price: decimal.Decimal, Decimal('1.50')" in text
    assert "day: datetime.date, datetime.date(2024, 1, 2)" in text
    assert "f32: numpy.float32, 1.5" in text
    assert "ts: pandas.Timestamp, Timestamp('2024-01-01 00:00:00')" in text
    assert "conn: sqlite3.Connection (not described)" in text
    assert "gen: generator (not described)" in text


def test_notebook_function_and_class_with_source_from_history() -> None:
    ns = notebook(SETUP)
    text = describe(ns, ["tax", "Point", "p"], history=["x = 1", SETUP, "%time y = 2"])
    lines = text.splitlines()
    assert (
        lines[0]
        == 'tax(price: float, rate: float=0.2) -> float  # function defined in the notebook: """Tax on a price."""'
    )
    assert lines[1] == "  def tax(price: float, rate: float = 0.2) -> float:"
    assert "      return round(price * RATE, 2)" in lines
    head = next(line for line in lines if line.startswith("Point:"))
    assert head == (
        'Point: class defined in the notebook; Point(x: int, y: int = 0); methods: dist; """A point on the plane."""'
    )
    assert "  class Point:" in lines
    assert "p: Point instance (class defined in the notebook); x=3, y=4" in lines


def test_function_without_history_uses_code_object_signature() -> None:
    ns = notebook("def f(a, /, b: int = 2, *args, c, d='x', **kw) -> str:\n    return ''\n", g=len)
    text = describe(ns, ["f", "g"])
    assert (
        text.splitlines()[0]
        == "f(a, /, b: int = 2, *args, c, d='x', **kw) -> str  # function defined in the notebook"
    )
    assert "g: builtin function from builtins" in text


def test_long_function_source_is_cut() -> None:
    body = "def long():\n" + "".join(f"    x{i} = {i}\n" for i in range(40))
    text = describe(notebook(body), ["long"], history=[body])
    assert "  ... (27 more lines)" in text
    assert len(text.splitlines()) == 16


def test_imported_function_and_class() -> None:
    import os.path

    text = describe({"join": os.path.join, "OD": collections.OrderedDict}, ["join", "OD"])
    assert "join(a, *p)  # function from posixpath" in text
    assert "OD: class collections.OrderedDict" in text


def test_modules_line_last_and_aliases() -> None:
    import os.path
    import xml.etree.ElementTree as ET

    ns = notebook("x = 1", pd=pd, np=np, osp=os.path, ET=ET, _hidden=np)
    assert module_aliases(ns) == {
        "pd": "pandas",
        "np": "numpy",
        "osp": "posixpath",
        "ET": "xml.etree.ElementTree",
    }
    text = describe(ns, ["x", "pd"])
    assert text.splitlines() == [
        "x: int, 1",
        "modules: pd = pandas, np = numpy, osp = posixpath, ET = xml.etree.ElementTree",
    ]


def test_missing_name() -> None:
    assert describe({}, ["ghost"]) == "ghost: not defined"


# --- never runs user code --------------------------------------------------------------------


def test_safe_repr_builtins_nested_and_limited() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert safe_repr([1, "a", (2,), {3}, frozenset(), None, 2.5, 1j, b"x"]) == (
        "[1, 'a', (2,), {3}, frozenset({}), None, 2.5, 1j, b'x']"
    )
    assert safe_repr(loop) == "[1, [...]]"
    assert safe_repr(list(range(10**6)), 20) == "[0, 1, 2, 3, 4, 5..."
    assert safe_repr(10**1000) == "<int of 3322 bits>"
    assert safe_repr(np.int64(3)) == "3"
    assert safe_repr(np.datetime64("2024-01-01")) == "np.datetime64('2024-01-01')"
    assert safe_repr(pd.NA) == "<NA>"
    assert safe_repr(object()) == "<object>"
    assert safe_repr([[[[[[1]]]]]]) == "[[[[[...]]]]]"


def test_hostile_objects_are_never_asked_anything(tripwire: type[Tripwire]) -> None:
    """Everywhere an object can hide (top level, containers, dict keys, a DataFrame object
    column, a Series, an object array, a function default, an instance attribute, a tz), none
    of its methods runs."""
    t = tripwire()

    class Tz(datetime.tzinfo):
        def __repr__(self) -> str:
            tripwire.calls.append("tz __repr__")
            return "Tz()"

        def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta:
            tripwire.calls.append("tz utcoffset")
            return datetime.timedelta(0)

    class Counted(collections.Counter):  # type: ignore[type-arg]
        pass

    counter = collections.Counter({"a": 1})
    counter.items = lambda: tripwire.calls.append("instance items")  # type: ignore[method-assign]
    ns = notebook(
        "def f(x=HOSTILE):\n    return x\n"
        "class Box:\n    def __init__(self, v):\n        self.v = v\n"
        "    def __getattribute__(self, n):\n        raise RuntimeError(n)\n"
        "box = Box(HOSTILE)\n",
        HOSTILE=t,
    )
    ns.update(
        obj=t,
        items=[t, 1],
        keyed={t: t},
        df=pd.DataFrame({"o": [t, t], "n": [1, 2]}),
        ser=pd.Series([t, 2]),
        arr=np.array([t, t], dtype=object),
        when=datetime.datetime(2024, 1, 1, tzinfo=Tz()),
        counter=counter,
        sub=Counted("ab"),
    )
    names = ["obj", "items", "keyed", "df", "ser", "arr", "f", "box", "when", "counter", "sub", "HOSTILE"]
    tripwire.armed = True
    refs = referenced_names(ns, ["use obj and items and box"], ["y = obj"])
    text = describe(ns, names, max_chars=8000)
    assert tripwire.calls == []
    tripwire.armed = False
    assert "obj" in refs
    assert "obj: tests.test_livestate.Tripwire (not described)" in text  # its real type, not list
    assert "items: list of 2 tests.test_livestate.Tripwire|int; [<tests.test_livestate.Tripwire>, 1]" in text
    assert "o=<tests.test_livestate.Tripwire>, n=1" in text
    assert "f(x=<tests.test_livestate.Tripwire>)" in text
    assert "box: Box instance (class defined in the notebook); v=<tests.test_livestate.Tripwire>" in text
    assert "when: datetime.datetime, <datetime.datetime with tzinfo>" in text
    assert "counter: collections.Counter of 1 str -> int; Counter({'a': 1})" in text
    sub = next(line for line in text.splitlines() if line.startswith("sub: "))
    assert sub.endswith(".Counted (not described)")  # a subclass may override anything


def test_hostile_module_and_metaclass(tripwire: type[Tripwire]) -> None:
    class Lazy(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            tripwire.calls.append(f"module {name}")
            raise AttributeError(name)

    class Meta(type):
        def __getattribute__(cls, name: str) -> Any:
            tripwire.calls.append(f"meta {name}")
            return super().__getattribute__(name)

    lazy = Lazy("lazy_mod")
    ns = notebook("class K(metaclass=META):\n    def m(self):\n        return 1\n", META=Meta, lazy=lazy)
    tripwire.armed = True
    aliases = module_aliases(ns)
    text = describe(ns, ["K"], history=[])
    assert tripwire.calls == []
    assert aliases == {"lazy": "lazy_mod"}
    assert text.startswith("K: class defined in the notebook; methods: m")


# --- which names --------------------------------------------------------------------------------


def test_referenced_names_from_plain_words() -> None:
    ns = notebook("sales = [1]\ndf = 1\ns = 2\na = 3\nunused = 4\nimport os\n", _private=1)
    assert referenced_names(ns, ["sum the list sales"]) == ["sales"]
    assert referenced_names(ns, ["mean of df's age column"]) == ["df"]  # not `s`
    assert referenced_names(ns, ["print `sales`"]) == ["sales"]
    assert referenced_names(ns, ["make a dict from df"]) == ["df", "a"]  # "a" is a word first
    assert referenced_names(ns, ["", "total = sum(sales) + unused\nos.getcwd()\n_private\nIn"]) == [
        "sales",
        "unused",
    ]
    assert referenced_names(ns, ["nothing called ghost"]) == []


def test_referenced_names_from_recent_cells_with_magics() -> None:
    ns = notebook("import pandas as pd\ndf = 1\nrows = []\ncount = 0\nlimit = 9\nlast = 5\n")
    cells = [
        "%matplotlib inline\nimport pandas as pd\ndf = pd.read_csv('x.csv')",
        "!ls -l\nlimit = 9",
        "for r in rows:\n    %time count += 1\n",
        "this is ( not python",
        "%%time\nlast = limit + 1\n",
    ]
    names = referenced_names(ns, ["plot it"], cells, max_recent_defined=2)
    assert names[:2] == ["last", "limit"]  # most recently defined first
    assert set(names) == {"last", "limit", "df", "rows"}
    assert "pd" not in names


def test_dependencies_of_notebook_functions() -> None:
    ns = notebook(SETUP, "prices = [1.0, 2.0]\n")
    assert referenced_names(ns, ["apply tax to prices"]) == ["tax", "RATE", "prices"]
    assert referenced_names(ns, ["distance of p"], max_recent_defined=0)[:1] == ["p"]


def test_referenced_names_capped() -> None:
    ns = notebook("".join(f"v{i} = {i}\n" for i in range(30)))
    assert len(referenced_names(ns, [" ".join(f"v{i}" for i in range(30))])) == 12


# --- budgets ------------------------------------------------------------------------------------


def test_size_budget_keeps_a_line_for_every_name() -> None:
    df = pd.DataFrame({f"column_{i}": ["x" * 40] * 5 for i in range(20)})
    ns = {"df": df, "text": "y" * 5000, **{f"v{i}": list(range(100)) for i in range(8)}, "np": np}
    names = ["df", "text", *[f"v{i}" for i in range(8)]]
    text = describe(ns, names, max_chars=900)
    assert len(text) <= 900
    lines = text.splitlines()
    assert lines[-1] == "modules: np = numpy"
    for name in names:
        assert any(line.startswith(f"{name}: ") for line in lines), name


def test_size_budget_lists_names_that_did_not_fit() -> None:
    ns = {f"v{i}": "z" * 100 for i in range(40)}
    text = describe(ns, list(ns), max_chars=400)
    assert len(text) <= 400
    assert "... (more names not described: size limit: " in text


def test_time_limit_stops_and_says_so() -> None:
    text = describe({"a": 1, "b": 2}, ["a", "b"], time_limit=-1)
    assert text == "... (more names not described: time limit: a, b)"


def test_real_ipython_shell(shell: Any) -> None:
    """Names, history and source as the session will pass them from a live kernel."""
    for cell in [
        "import numpy as np\nRATE = 0.25",
        "def net(x):\n    return x * (1 - RATE)",
        "%time m = np.eye(2)",
        "values = np.arange(5)",
    ]:
        shell.run_cell(cell, store_history=True)
    hist = list(shell.history_manager.input_hist_raw)
    names = referenced_names(shell.user_ns, ["apply net to values"], hist[-3:])
    assert names[:3] == ["net", "RATE", "values"]
    text = describe(shell.user_ns, names, history=hist)
    assert "net(x)  # function defined in the notebook\n  def net(x):\n      return x * (1 - RATE)" in text
    assert "values: numpy.ndarray, shape (5,), dtype int64, [0, 1, 2, 3, 4]" in text
    assert text.splitlines()[-1] == "modules: np = numpy"
