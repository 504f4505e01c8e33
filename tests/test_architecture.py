"""The import contract of issue 12: data flows one way through the layers.

models/ and sandbox/ know nothing else of ours; context/ uses models/ (to count tokens); the loop
uses models/, context/ and sandbox/ and knows no front door; the session uses the lower layers;
the front doors talk to the session and the lower layers, never to each other, except through
the shared view helpers (display, progress, status); bench/ is a library of the loop's layers
that only the ``smallcode bench`` command uses. Every import counts, including the lazy ones
inside functions and those under ``if TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("smallcode_jupyter", "smallcode")

LOWER = {"models", "sandbox", "context", "loop"}
VIEW_HELPERS = {"display", "progress", "status"}  # shared by every front door
FRONT_DOORS = {"magics", "panel", "cli", "demo"} | VIEW_HELPERS

# The layer of each top-level name inside smallcode_jupyter/ (modules and packages alike).
LAYER_OF = {
    **{name: name for name in LOWER | FRONT_DOORS | {"session", "bench"}},
    "magics_commands": "magics",  # the %smallcode line subcommands, beside the magics
    "panel_comm": "panel",  # the panel's kernel side before it became panel/
}


def _front_door(layer: str) -> set[str]:
    """A front door: itself, the session, the lower layers, the shared view helpers and the
    package root (``__version__``); only the command line uses the benchmark library."""
    allowed = {layer, "session", "root"} | LOWER | VIEW_HELPERS
    return allowed | {"bench"} if layer == "cli" else allowed


ALLOWED: dict[str, set[str]] = {
    "models": {"models"},
    "sandbox": {"sandbox"},
    "context": {"context", "models"},
    "loop": {"loop", "models", "context", "sandbox"},
    # progress is a leaf (it imports nothing of ours): the session's default progress bar
    "session": {"session", "progress"} | LOWER,
    "bench": {"bench", "loop", "models", "context", "sandbox"},
    **{layer: _front_door(layer) for layer in FRONT_DOORS},
    "root": LOWER | FRONT_DOORS | {"session", "bench", "root"},  # load_ipython_extension & co.
    "shim": {"root"},  # `%load_ext smallcode` only forwards
}

RULES = {
    "models": "models/ imports nothing else of ours",
    "sandbox": "sandbox/ imports nothing else of ours",
    "context": "context/ may import only models/ (to count tokens)",
    "loop": "loop/ may import only models/, context/ and sandbox/: never the session or a front door",
    "session": "the session imports only the lower layers (and the progress bar)",
    "bench": "bench/ is a library of loop/, models/, context/ and sandbox/",
    "root": "the package root",
    "shim": "the smallcode shim only forwards to smallcode_jupyter",
}
FRONT_DOOR_RULE = (
    "front doors talk to the session and the lower layers, never to each other "
    "(display, progress and status are the shared view helpers; only cli/ uses bench/)"
)


@dataclass(frozen=True)
class Import:
    source: str  # module name of the importing file
    target: str  # module (or package) it imports
    where: str  # path:line


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def known_modules() -> set[str]:
    return {module_name(p) for p in source_files()}


def imports_of(path: Path, known: set[str], root: Path = ROOT) -> list[Import]:
    """Every import of our own modules in ``path``, at any depth, relative ones resolved."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [Import(name, a.name, where) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:  # `from . import panel` imports the module panel
                sub = f"{base}.{alias.name}"
                found.append(Import(name, sub if sub in known else base, where))
    return [i for i in found if i.target.split(".")[0] in PACKAGES]


def layer(module: str) -> str | None:
    """``smallcode_jupyter.loop.checks`` → ``loop``; None for a module no rule knows yet."""
    parts = module.split(".")
    if parts[0] == "smallcode":
        return "shim"
    if len(parts) == 1:
        return "root"
    return LAYER_OF.get(parts[1])


def violations() -> list[str]:
    known = known_modules()
    out = []
    for path in source_files():
        for imp in imports_of(path, known):
            src, dst = layer(imp.source), layer(imp.target)
            if src is None or dst is None:
                unknown = imp.source if src is None else imp.target
                out.append(
                    f"{imp.where}: {imp.source} → {imp.target}  [{unknown} belongs to no layer: add it]"
                )
            elif dst not in ALLOWED[src]:
                rule = FRONT_DOOR_RULE if src in FRONT_DOORS else RULES[src]
                out.append(f"{imp.where}: {imp.source} → {imp.target}  [{rule}]")
    return out


def test_every_module_belongs_to_a_layer():
    loose = sorted(m for m in known_modules() if layer(m) is None)
    assert not loose, "modules no layer rule covers (add them to LAYER_OF):\n  " + "\n  ".join(loose)


def test_imports_follow_the_layers():
    found = violations()
    assert not found, f"{len(found)} import(s) against the layer rules:\n  " + "\n  ".join(found)


def test_the_contract_sees_lazy_imports(tmp_path):
    """A front door imported inside a function of the loop is caught."""
    path = tmp_path / "smallcode_jupyter" / "loop" / "probe.py"
    path.parent.mkdir(parents=True)
    path.write_text("def f():\n    from ..magics import SmallcodeMagics\n")
    (imp,) = imports_of(path, {"smallcode_jupyter.magics"}, root=tmp_path)
    assert (imp.source, imp.target) == ("smallcode_jupyter.loop.probe", "smallcode_jupyter.magics")
    assert layer(imp.target) not in ALLOWED["loop"]


def test_the_contract_resolves_real_imports():
    session = ROOT / "smallcode_jupyter" / "session.py"
    targets = {i.target for i in imports_of(session, known_modules())}
    assert {"smallcode_jupyter.loop.events", "smallcode_jupyter.sandbox.errors"} <= targets
