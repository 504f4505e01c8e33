"""Notebook tasks: code that works on the user's live variables rather than a function to test.

In a notebook most requests are about data the user already has (``df``, ``sales``). The loop
proves such code on copies of those variables in the sandbox, and three rules follow from the
task itself, not from a test the user wrote:

- the code must run on the copied variables without error;
- a result the task names ("into a dict counts", "a DataFrame called adults") must exist after it;
- it must never rebind one of the user's variables to new literal data (``sales = [{...}]``): that
  would overwrite real data with invented data the moment the cell runs.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Iterable

from .checks import Check
from .pyast import parse_module

STATE_HEADER = (
    "Variables that already exist in the user's notebook (use them as they are; never define them "
    "again or make up data for them):"
)

_TYPES = (
    r"(?:dict(?:ionary)?|list|data\s?frame|DataFrame|series|Series|(?:numpy\s+)?array|set|tuple|"
    r"variable|string|str|int(?:eger)?|float|number|count|table|frame|function|counter|mapping)"
)
_NAME = r"`?([A-Za-z_][A-Za-z0-9_]*)`?"
_RESULT_PATTERNS = (
    # "into a dict counts", "as a new DataFrame adults", "in a variable total"
    re.compile(
        rf"\b(?:into|in|as|to)\s+(?:an?\s+|the\s+)?(?:new\s+)?{_TYPES}\s+(?:named\s+|called\s+)?{_NAME}", re.I
    ),
    # "a DataFrame named adults", "a function called clean"
    re.compile(rf"\b(?:named|called)\s+{_NAME}", re.I),
    # "store/save/assign/put ... in/into/as/to `top3`": only with backticks or a digit/underscore
    re.compile(
        r"\b(?:store|save|assign|put|keep)\w*\b[^.;\n]{0,60}?\b(?:in|into|as|to)\s+`([A-Za-z_]\w*)`", re.I
    ),
    re.compile(
        r"\b(?:store|save|assign|put|keep)\w*\b[^.;\n]{0,60}?\b(?:in|into|as|to)\s+([A-Za-z_]*[_0-9]\w*)\b",
        re.I,
    ),
    # "store the longest sentence in longest, ..." / "... in x" at the end of a clause
    re.compile(
        r"\b(?:store|save|assign)\w*\b[^.;\n]{0,60}?\b(?:in|into|as|to)\s+`?([A-Za-z_]\w*)`?(?=\s*(?:[,.;:)]|$))",
        re.I,
    ),
    # "into col_means", "into Z, ..." (into names a result; a following word must end the phrase)
    re.compile(
        r"\binto\s+`?([A-Za-z_]\w*)`?(?=\s*(?:[,.;:)]|$|\s+(?:with|that|where|which|mapping|keyed|so|sorted)\b))",
        re.I,
    ),
    # "make a DataFrame adults with ...", "build a new list rich"
    re.compile(
        rf"\b(?:make|create|build|compute|produce|collect|return)\s+(?:an?\s+|the\s+)?(?:new\s+)?{_TYPES}\s+{_NAME}",
        re.I,
    ),
    # "build graph, a dict ...", "compute averages, a dict ...", "find busiest_hour, the hour ..."
    re.compile(
        rf"\b(?:make|create|build|compute|produce|collect|count|find|get|store)\s+{_NAME}\s*,\s+(?:an?|the)\s+",
        re.I,
    ),
    # "write a function top_customers(n)", "write a class Cart"
    re.compile(r"\b(?:write|define|create|make)\s+(?:an?\s+)?(?:function|class)\s+`?([A-Za-z_]\w*)`?", re.I),
)
_COLUMN = re.compile(
    rf"\badd\s+(?:an?\s+)?(?:new\s+)?column\s+{_NAME}\s+(?:to|in)\s+(?:the\s+)?(?:DataFrame\s+)?{_NAME}", re.I
)
_NOT_NAMES = frozenset(
    [
        "a",
        "an",
        "the",
        "called",
        "named",
        "that",
        "of",
        "with",
        "by",
        "from",
        "for",
        "where",
        "that",
        "which",
        "and",
        "or",
        "it",
        "its",
        "each",
        "every",
        "new",
        "place",
        "order",
        "one",
        "two",
        "three",
        "ascending",
        "descending",
        "rows",
        "columns",
        "values",
        "keys",
        "items",
        "them",
        "this",
        "these",
        "those",
        "their",
        "dict",
        "dictionary",
        "list",
        "dataframe",
        "series",
        "array",
        "set",
        "tuple",
        "variable",
        "string",
        "str",
        "int",
        "integer",
        "float",
        "number",
        "count",
        "table",
        "frame",
        "function",
        "counter",
        "mapping",
        "result",
        "results",
        "output",
    ]
)


def result_names(task: str) -> list[str]:
    """Names the task says its result goes into, in order ("into a dict counts" -> counts)."""
    out: list[str] = []
    for pattern in _RESULT_PATTERNS:
        for m in pattern.finditer(task):
            name = m.group(1)
            if name.lower() in _NOT_NAMES or keyword.iskeyword(name) or name in out:
                continue
            out.append(name)
    return out


def new_columns(task: str, user_names: Iterable[str]) -> list[tuple[str, str]]:
    """(column, frame) for "add a column total to orders" when ``orders`` is the user's."""
    existing = set(user_names)
    return [(m.group(1), m.group(2)) for m in _COLUMN.finditer(task) if m.group(2) in existing]


def notebook_checks(task: str, user_names: Iterable[str]) -> list[Check]:
    """A check per result the task names that is not one of the user's variables already, and
    per column it says to add to one of the user's DataFrames."""
    existing = set(user_names)
    checks = [
        Check(
            f"assert {name!r} in globals(), "
            f"{'the task asks for a result named ' + name + '; the code does not define it'!r}",
            "task",
            f"defines {name}",
        )
        for name in result_names(task)
        if name not in existing
    ]
    for column, frame in new_columns(task, existing):
        message = f"the task asks for a column {column!r} in {frame}; {frame} has no such column"
        checks.append(
            Check(f"assert {column!r} in {frame}.columns, {message!r}", "task", f"{frame}[{column!r}]")
        )
    return checks


def _literal_data(node: ast.AST) -> bool:
    """A display of constants ([...], {...}, (...)) or a long string somewhere in ``node``: data
    typed in."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str | bytes) and len(sub.value) >= 30:
            return True
        if (
            isinstance(sub, ast.List | ast.Tuple | ast.Set)
            and any(isinstance(e, ast.Constant) for e in ast.walk(sub))
            and (len(sub.elts) >= 2 or any(isinstance(e, ast.Dict | ast.List | ast.Tuple) for e in sub.elts))
        ):
            return True
        if isinstance(sub, ast.Dict) and sub.keys and any(isinstance(v, ast.Constant) for v in ast.walk(sub)):
            return True
    return False


def invented_overwrites(
    code: str, user_names: Iterable[str], data_names: Iterable[str] | None = None
) -> list[str]:
    """The user's variables that ``code`` rebinds, at the top level, to new literal data instead
    of deriving them from what exists (``sales = [{'amount': 100}, ...]``). Only ``data_names``
    (default: all the user's names) make a value derived: ``pd.DataFrame({...})`` or
    ``[Account(n) for n in ['ann', 'bob']]`` use a module and a class, not the user's data."""
    out: list[str] = []
    for _node, names in _overwriting(code, user_names, data_names):
        out += [n for n in names if n not in out]
    return out


def drop_overwrites(code: str, user_names: Iterable[str], data_names: Iterable[str] | None = None) -> str:
    """``code`` without its statements that re-create the user's variables from literal data.

    A small model shown ``sales`` often starts its answer by typing out sample data for it and
    then does the real work on that; without those lines the work runs on the real data, which
    the checks then judge. Returns ``code`` unchanged when there is nothing to drop.
    """
    found = _overwriting(code, user_names, data_names)
    if not found:
        return code
    lines = code.splitlines(keepends=True)
    for node, _names in reversed(found):
        end = node.end_lineno or node.lineno
        del lines[node.lineno - 1 : end]
    return "".join(lines).strip("\n") + "\n"


def _overwriting(
    code: str, user_names: Iterable[str], data_names: Iterable[str] | None = None
) -> list[tuple[ast.stmt, list[str]]]:
    tree = parse_module(code)
    if tree is None:
        return []
    existing = set(user_names)
    data = existing if data_names is None else set(data_names)
    out: list[tuple[ast.stmt, list[str]]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name in data:
            out.append((node, [node.name]))  # a function or class in place of the user's data
            continue
        if isinstance(node, ast.Assign):
            targets: list[ast.expr] = list(node.targets)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        else:
            continue
        value = node.value
        assert value is not None
        names = [t.id for t in targets if isinstance(t, ast.Name) and t.id in existing]
        if not names or not _literal_data(value):
            continue
        used = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
        if used & (data | set(names)):
            continue  # derived from the user's data (e.g. df[df.age > 30], dict(zip(keys, vals)))
        out.append((node, names))
    return out


def only_defines(text: str, names: Iterable[str]) -> bool:
    """True when the code ``text`` builds some of ``names`` and defines no function or class:
    the cell that made a variable the model already sees described. Shown its literal data, a
    small model copies it into its answer instead of using the variable."""
    tree = parse_module(text)
    if tree is None or not tree.body:
        return False
    if any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) for n in ast.walk(tree)):
        return False
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return bool(bound & set(names))


def overwrite_message(names: list[str]) -> str:
    listed = ", ".join(f"`{n}`" for n in names)
    return (
        f"the code replaces your variable{'s' * (len(names) > 1)} {listed} with new literal data; "
        f"{listed} already exist{'s' * (len(names) == 1)} in the notebook: use {'them' if len(names) > 1 else 'it'}"
        " as is and never re-create it"
    )


def describe_changes(changed: dict[str, str]) -> list[str]:
    """``{"df": "modified"}`` -> ``["df (modified)"]``, sorted by name."""
    return [f"{name} ({how})" for name, how in sorted(changed.items())]
