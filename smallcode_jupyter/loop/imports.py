"""Add the imports a candidate forgot, for helpers that retrieval showed it.

WHY: the 0.5B model reliably *calls* a helper it was shown (``to_cents(amount)``) but often
omits ``from shoplib.money import to_cents``, and then fails with a NameError that the repair
round rarely fixes. Retrieved snippets of importable modules start with that exact import line,
so the fix is mechanical. Meant for the generation stage: ``add_missing_imports(code, snippets)``
on each candidate before it is run.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable

from ..context.types import Snippet
from .pyast import bound_names, loaded_names, parse_module

_IMPORT = re.compile(r"^from\s+([\w.]+)\s+import\s+(\w+)\s*$", re.M)


def unbound_names(code: str) -> set[str]:
    """Names the code reads but never binds (nor are builtins); empty if it does not parse."""
    tree = parse_module(code)
    if tree is None:
        return set()
    # builtins read now, not at import: IPython adds names (display, get_ipython) while a cell runs
    return loaded_names([tree]) - bound_names([tree]) - set(dir(builtins))


def add_missing_imports(code: str, snippets: Iterable[Snippet]) -> str:
    """``code`` with ``from M import name`` prepended for each unbound name a snippet provides."""
    missing = unbound_names(code)
    if not missing:
        return code
    lines = []
    for s in snippets:
        for module, name in _IMPORT.findall(s.text):
            line = f"from {module} import {name}"
            if name in missing and line not in lines:
                lines.append(line)
    return "\n".join([*lines, "", code]) if lines else code
