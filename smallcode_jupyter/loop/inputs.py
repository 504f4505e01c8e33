"""Inputs the model writes for behaviour voting: one short, grammar-constrained call.

Model-written expected values are often wrong (a small model misjudges its own examples), but
its inputs are fine: they only have to be valid, not answered. So the model writes arguments
only, as a JSON list constrained by a schema typed from the function's signature (or, where it
has no annotations, from the prompt's own example calls); the candidates' outputs on them are
compared with each other, never with an answer (``vote.py``).
"""

from __future__ import annotations

import ast
import json
import threading
from collections.abc import Sequence

from ..models.llm import ChatModel
from . import inputs_prompts as P
from . import pyast
from .events import Usage

JSON = dict[str, object]
ANY: JSON = {
    "anyOf": [
        {"type": "integer"},
        {"type": "string", "maxLength": 24},
        {"type": "array", "items": {"type": "integer"}, "maxItems": 6},
    ]
}
SCALARS: dict[str, JSON] = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "str": {"type": "string", "maxLength": 40},
}


def annotation_schema(node: ast.expr | None) -> JSON | None:
    """JSON schema of a type annotation (None: not expressible, e.g. a class or Callable)."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
        try:
            return annotation_schema(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return None
    if isinstance(node, ast.Name) and node.id in SCALARS:
        return SCALARS[node.id]
    if isinstance(node, ast.Name) and node.id in ("list", "List", "tuple", "Tuple", "set", "Set"):
        return {"type": "array", "items": ANY, "maxItems": 6}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # X | None
        parts = [p for p in (node.left, node.right) if not (isinstance(p, ast.Constant) and p.value is None)]
        return annotation_schema(parts[0]) if len(parts) == 1 else None
    if isinstance(node, ast.Subscript) and isinstance(node.value, (ast.Name, ast.Attribute)):
        name = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if name in ("List", "list", "Set", "set", "Sequence", "Iterable") and len(args) == 1:
            inner = annotation_schema(args[0])
            return {"type": "array", "items": inner, "maxItems": 6} if inner else None
        if name in ("Tuple", "tuple"):
            if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
                inner = annotation_schema(args[0])
                return {"type": "array", "items": inner, "maxItems": 6} if inner else None
            inners = [annotation_schema(a) for a in args]
            if all(inners):
                return {"type": "array", "prefixItems": inners}
            return None
        if name == "Optional" and len(args) == 1:
            return annotation_schema(args[0])
        if name in ("Dict", "dict", "Mapping") and len(args) == 2:
            value = annotation_schema(args[1])
            key = annotation_schema(args[0])
            if value and key == SCALARS["str"]:
                return {"type": "object", "additionalProperties": value, "maxProperties": 6}
            return None
        if name == "Union":
            inners = [
                annotation_schema(a) for a in args if not (isinstance(a, ast.Constant) and a.value is None)
            ]
            return {"anyOf": inners} if inners and all(inners) else None
    return None


def value_schema(value: object) -> JSON | None:
    """JSON schema of an example argument's type (lists typed by their first element)."""
    if isinstance(value, bool):
        return SCALARS["bool"]
    if isinstance(value, int):
        return SCALARS["int"]
    if isinstance(value, float):
        return SCALARS["float"]
    if isinstance(value, str):
        return SCALARS["str"]
    if isinstance(value, (list, tuple)):
        inner = value_schema(value[0]) if value else None
        return {"type": "array", "items": inner or ANY, "maxItems": 6}
    if isinstance(value, dict):
        inner = value_schema(next(iter(value.values()))) if value else None
        if all(isinstance(k, str) for k in value):
            return {"type": "object", "additionalProperties": inner or ANY, "maxProperties": 6}
    return None


def parameters(stub: str, entry: str) -> list[ast.arg] | None:
    """The positional parameters of ``entry`` in ``stub`` (None: no such function, or it takes
    ``*args``/keyword-only arguments, which a list of arguments cannot express simply)."""
    tree = pyast.parse_module(stub)
    if tree is None:
        return None
    funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == entry]
    if not funcs:
        return None
    a = funcs[-1].args
    if a.vararg or a.kwarg or a.kwonlyargs:
        return None
    params = [*a.posonlyargs, *a.args]
    return params[1:] if params and params[0].arg in ("self", "cls") else params


def schema_for(stub: str, entry: str, examples: Sequence[str], n: int) -> JSON | None:
    """The schema of ``n`` argument lists for ``entry``: each argument typed by its annotation,
    else by the value it has in the first example call, else loosely."""
    params = parameters(stub, entry)
    if not params:
        return None
    example: list[object] = []
    if examples:
        try:
            example = list(ast.literal_eval(f"({examples[0]},)"))
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
            example = []
    items: list[JSON] = []
    for i, p in enumerate(params):
        typed = annotation_schema(p.annotation)
        if typed is None and i < len(example):
            typed = value_schema(example[i])
        items.append(typed or ANY)
    # a tuple by its prefixItems alone: llama-server refuses a boolean schema ("items": false)
    one: JSON = {"type": "array", "prefixItems": items}
    return {"type": "array", "items": one, "minItems": n, "maxItems": n}


def write_inputs(
    llm: ChatModel,
    stub: str,
    entry: str,
    examples: Sequence[str],
    usage: Usage,
    n: int = 5,
    cancel: threading.Event | None = None,
) -> list[str]:
    """Up to ``n`` argument sources for ``entry`` written by the model (valid Python literals),
    none that repeats an example; [] when the signature cannot be typed or nothing parses."""
    schema = schema_for(stub, entry, examples, n)
    if schema is None:
        return []
    # No example call in the prompt: the schema already fixes the shape, and a small model shown
    # one copies it (and the prompt's own examples are probes anyway).
    messages = [
        {"role": "system", "content": P.SYSTEM},
        {"role": "user", "content": P.WRITE.format(spec=stub.strip(), n=n, entry=entry)},
    ]
    out = llm.chat(messages, max_tokens=32 * n, json_schema=schema, cancel=cancel)
    usage.add(out)
    return parse_inputs(out.text, len(schema["items"]["prefixItems"]), examples)  # type: ignore[index]


def parse_inputs(text: str, arity: int, examples: Sequence[str] = ()) -> list[str]:
    """Argument sources from the model's JSON (each a list of ``arity`` values); a reply cut
    off by the token limit keeps its complete items."""
    data = None
    for end in [len(text), *(i + 1 for i in range(len(text) - 1, 0, -1) if text[i] == "]")]:
        try:
            data = json.loads(text[:end] if end == len(text) else text[:end] + "]")
            break
        except ValueError:
            continue
    out: list[str] = []
    for call in data if isinstance(data, list) else []:
        if not isinstance(call, list) or len(call) != arity:
            continue
        src = ", ".join(repr(v) for v in call)
        if src not in out and src not in examples:
            out.append(src)
    return out
