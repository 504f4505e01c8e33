"""Turn model output into runnable code, and recognise function stubs."""

from __future__ import annotations

import ast
import re

from . import pyast


def extract_code(text: str, prefilled: bool = True) -> str:
    """The code in a model reply. With a prefilled fence the reply is code up to the next fence."""
    if prefilled:
        return text.split("```", 1)[0].strip("\n")
    blocks = pyast.fenced_blocks(text)
    return (max(blocks, key=len) if blocks else text).strip("\n")


def stub_entry_point(task: str) -> str | None:
    """The function a stub task defines (``def f(...):`` + docstring, HumanEval style), if any."""
    tree = pyast.parse_module(task)
    if tree is None:
        return None
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    return funcs[-1].name if funcs else None


def named_function(task: str) -> str | None:
    """The function a free-text task names: "write a function is_prime(n) ..." → is_prime."""
    m = re.search(r"\b(?:function|def|method|called|named)\s+`?([A-Za-z_]\w*)`?\s*\(", task)
    return m.group(1) if m else None


def defined_names(code: str) -> set[str]:
    """Top-level functions and classes ``code`` defines (empty if it does not parse)."""
    tree = pyast.parse_module(code)
    return pyast.defined_names(tree.body) if tree is not None else set()


def complete_with_stub(code: str, stub: str, entry_point: str | None) -> str:
    """Make a candidate for a stub runnable: keep the stub's imports and helpers.

    Small models often rewrite the function without the stub's ``from typing import List`` or
    drop a helper the stub defined; if only the body came back, put the stub in front.
    """
    stub_tree = pyast.parse_module(stub)
    if stub_tree is None:
        return code
    have = defined_names(code)
    if entry_point and entry_point not in have and code.startswith((" ", "\t")):
        return stub.rstrip() + "\n" + code
    lines = stub.splitlines()
    prefix = []
    for node in stub_tree.body:
        seg = "\n".join(lines[node.lineno - 1 : node.end_lineno])
        if (isinstance(node, ast.Import | ast.ImportFrom) and seg not in code) or (
            isinstance(node, ast.FunctionDef) and node.name != entry_point and node.name not in have
        ):
            prefix.append(seg)
    code = "\n".join([*prefix, code]) if prefix else code
    renamed = (
        _renamed_entry_point(code, stub_tree, entry_point)
        if entry_point and entry_point not in have
        else None
    )
    return f"{code.rstrip()}\n\n{entry_point} = {renamed}\n" if renamed else code


def _renamed_entry_point(code: str, stub_tree: ast.Module, entry_point: str) -> str | None:
    """The stub's function under another name, if the candidate renamed it.

    The stub's name is the contract, but a model sometimes names the function after the
    stub's own examples when they call it differently. Only an unambiguous case counts: one
    new top-level function with the stub's parameters.
    """
    want = next((n for n in stub_tree.body if isinstance(n, ast.FunctionDef) and n.name == entry_point), None)
    tree = pyast.parse_module(code)
    if tree is None:
        return None
    stub_names = {n.name for n in stub_tree.body if isinstance(n, ast.FunctionDef)}
    new = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name not in stub_names]
    if want is None or len(new) != 1:
        return None
    params = [a.arg for a in want.args.args]
    return new[0].name if [a.arg for a in new[0].args.args] == params else None


def strip_main(code: str) -> str:
    """Drop demo code: an ``if __name__ == "__main__":`` block and top-level asserts.

    They are the model's own unverified tests and prints; a wrong one would make a correct
    candidate fail to load. The user's tests are run separately as checks.
    """
    tree = pyast.parse_module(code)
    if tree is None:
        return code
    lines = code.splitlines()
    for node in reversed(tree.body):
        if pyast.is_main_guard(node) or isinstance(node, ast.Assert):
            del lines[node.lineno - 1 : node.end_lineno]
    return "\n".join(lines).rstrip() + "\n"
