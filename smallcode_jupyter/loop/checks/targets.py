"""Which functions an example may exercise, and the imports a check may repeat.

A check is only worth running when it calls the function under test (the entry point, or a
function the text defines) and every other name it needs can be supplied: a builtin, an import
from the text, or a standard-library module. Anything else would fail with a NameError on every
candidate, so such examples are skipped.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import dataclass

from ..pyast import (
    BUILTIN_NAMES,
    CLASS_LINE_RE,
    DEF_LINE_RE,
    STDLIB,
    bound_names,
    called_names,
    defined_names,
    free_names,
    inline_main,
    loaded_names,
    module_refs,
    parse_module,
)
from .literals import match_paren

__all__ = ["Func", "Targets", "import_setup", "importable", "imports_in_text", "unresolved"]

_IMPORT_RE = re.compile(r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+[^\n]+$", re.M)


@dataclass
class Func:
    """A function examples may call: its positional parameters and how many are required.

    ``required == -1`` marks a class (its constructor's parameters are unknown).
    """

    name: str
    params: list[str]
    required: int


def _defs_in_text(text: str) -> dict[str, Func]:
    """Functions defined in text (by `def` lines), with their parameter names."""
    out: dict[str, Func] = {}
    for m in DEF_LINE_RE.finditer(text):
        name = m.group(1)
        open_i = m.end() - 1
        close_i = match_paren(text, open_i)
        if close_i < 0:
            continue
        tree = parse_module(f"def _f{text[open_i:close_i]}: pass")
        if tree is None or not isinstance(tree.body[0], ast.FunctionDef):
            continue
        a = tree.body[0].args
        pos = [p.arg for p in a.posonlyargs + a.args]
        if pos and pos[0] in ("self", "cls"):
            pos = pos[1:]
        out.setdefault(name, Func(name, pos, len(pos) - len(a.defaults)))
    for m in CLASS_LINE_RE.finditer(text):
        out.setdefault(m.group(1), Func(m.group(1), [], -1))
    return out


def imports_in_text(text: str) -> dict[str, str]:
    """name -> the import statement (one line) that binds it."""
    out: dict[str, str] = {}
    for m in _IMPORT_RE.finditer(text):
        line = m.group(0).strip()
        tree = parse_module(line)
        if tree is None or len(tree.body) != 1:
            continue
        node = tree.body[0]
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    continue
                bound = alias.asname or alias.name.split(".")[0]
                out.setdefault(bound, line)
    return out


def importable(stmt: ast.stmt) -> bool:
    """Is an import statement safe to repeat in a check (stdlib or installed, not a local 'solution')?"""
    if isinstance(stmt, ast.Import):
        mods = [a.name for a in stmt.names]
    elif isinstance(stmt, ast.ImportFrom):
        if stmt.level:
            return False
        mods = [stmt.module or ""]
    else:
        return True
    for mod in mods:
        top = mod.split(".")[0]
        if top in STDLIB:
            continue
        try:
            if importlib.util.find_spec(top) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


class Targets:
    """Which function names a check may exercise.

    With an entry point or `def` lines in the text, only those names count.
    Otherwise (``open_``) any non-builtin called name counts -- used for
    explicit forms only (doctests, asserts, strong prose separators).
    """

    def __init__(self, text: str, entry_point: str | None, tree: ast.Module | None = None) -> None:
        self.text = text
        self.defs = _defs_in_text(text)
        # only imports a check can repeat (`from solution import f` cannot)
        self.imports = {k: v for k, v in imports_in_text(text).items() if importable(ast.parse(v).body[0])}
        if tree is None and text:
            tree = parse_module(text)
        # methods are not callable by bare name: only top-level defs count
        names = defined_names(inline_main(tree.body)) if tree is not None else set(self.defs)
        if entry_point:
            names.add(entry_point)
        self.names = frozenset(names)
        self.entry_point = entry_point
        self.open_ = not names

    def main_func(self) -> Func | None:
        """The function whose parameters named examples ("For lst = ...") bind to.

        Without a `def` line, a prose signature such as "write sq(n)" gives the names.
        """
        if self.entry_point:
            if self.entry_point in self.defs:
                return self.defs[self.entry_point]
            name = re.escape(self.entry_point)
            pat = rf"(?<![\w.]){name}\s*\(\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*\)"
            sigs = {tuple(re.split(r"\s*,\s*", m.group(1))) for m in re.finditer(pat, self.text)}
            sigs = {s for s in sigs if not set(s) & {"true", "false", "null", "True", "False", "None"}}
            if len(sigs) == 1:
                params = list(next(iter(sigs)))
                return Func(self.entry_point, params, len(params))
            return None
        funcs = [f for f in self.defs.values() if f.required != -1 and f.name in self.names]
        return funcs[0] if len(funcs) == 1 else None

    def exercised(self, nodes: list[ast.AST]) -> bool:
        """Do the nodes use a target (open mode: call any non-builtin name)?"""
        if self.open_:
            return any(n not in BUILTIN_NAMES for n in called_names(nodes))
        return bool(loaded_names(nodes) & self.names)

    def allowed(self, nodes: list[ast.AST]) -> set[str]:
        """Free names that are fine: targets (and, open mode, called unknowns)."""
        ok = set(self.names) | set(self.imports)
        if self.open_:
            ok |= called_names(nodes)
        return ok


def unresolved(nodes: list[ast.AST], targets: Targets) -> set[str]:
    """Free names a check would hit NameError on (it is then skipped, not emitted)."""
    return free_names(nodes) - targets.allowed(nodes) - module_refs(nodes)


def import_setup(nodes: list[ast.AST], targets: Targets) -> list[str]:
    """Import lines for modules a check uses: from the text, else stdlib by name."""
    names = loaded_names(nodes) - bound_names(nodes)
    mods = module_refs(nodes)
    lines: list[str] = []
    for n in sorted(names):
        line = targets.imports.get(n) or (f"import {n}" if n in mods else None)
        if not line or line in lines:
            continue
        stmt = ast.parse(line).body[0]
        if bound_names([stmt]) & targets.names or not importable(stmt):
            continue  # `from solution import f` would replace or break the candidate
        lines.append(line)
    return lines
