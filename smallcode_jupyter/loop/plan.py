"""The task decomposer: decide cheaply whether a task is atomic; if not, plan its parts.

Each part is later generated in its own small-context call that sees only the plan, the
signatures it depends on and its own context; the parts are assembled in dependency order.
"""

from __future__ import annotations

import ast
import json
import re
import threading
from dataclasses import dataclass, field

from ..models.llm import ChatModel
from . import plan_prompts as P
from .code import stub_entry_point
from .events import Usage


@dataclass
class Part:
    """One sub-task of a plan."""

    name: str
    signature: str
    purpose: str
    depends: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.signature} — {self.purpose}"


def is_atomic(task: str) -> bool:
    """No model call: stubs and short single-purpose tasks are atomic; enumerations are not.

    "a REST API in Flask with routes, models, auth middleware and error handlers" lists four
    components (commas and "and" split it into >= 4 pieces); "a function f(x) ... and a
    function g(y) ..." names several units outright.
    """
    if stub_entry_point(task):
        return True
    pieces = [p for p in re.split(r",|;|\band\b|\bthen\b", task) if p.strip()]
    named = set(re.findall(r"\b(?:function|method)\s+`?([A-Za-z_]\w*)`?\s*\(", task))
    return len(named) < 2 and not (len(pieces) >= 4 and len(task.split()) >= 10)


def parse_plan(text: str) -> list[Part]:
    """Parts from the grammar-constrained JSON, dropping unknown dependencies and cycles."""
    data = json.loads(text)
    parts, seen = [], set()
    for raw in data["parts"]:
        name = raw["name"]
        if name in seen:
            continue
        seen.add(name)
        parts.append(
            Part(name, raw["signature"].strip(), raw["purpose"].strip(), list(raw.get("depends", [])))
        )
    for p in parts:
        p.depends = [d for d in p.depends if d in seen and d != p.name]
    return order(parts)


def order(parts: list[Part]) -> list[Part]:
    """Dependency order (dependencies first); a cycle is broken at the original order."""
    by_name = {p.name: p for p in parts}
    done: list[Part] = []
    visiting: set[str] = set()

    def visit(p: Part) -> None:
        if p in done or p.name in visiting:
            return
        visiting.add(p.name)
        for d in p.depends:
            visit(by_name[d])
        visiting.discard(p.name)
        done.append(p)

    for p in parts:
        visit(p)
    return done


def make_plan(llm: ChatModel, task: str, usage: Usage, cancel: threading.Event | None = None) -> list[Part]:
    """Ask the model for a plan (its JSON shape enforced by :data:`plan_prompts.SCHEMA`); [] if it
    is unusable."""
    messages = [
        {"role": "system", "content": P.SYSTEM},
        {"role": "user", "content": P.PLAN.format(task=task)},
    ]
    out = llm.chat(messages, max_tokens=600, json_schema=P.SCHEMA, cancel=cancel)
    usage.add(out)
    try:
        parts = parse_plan(out.text)
    except (ValueError, KeyError, TypeError):
        return []
    return parts if len(parts) >= 2 else []


def assemble(codes: list[str]) -> str:
    """Join the parts' code: imports hoisted and de-duplicated, each name defined once.

    A part that redefines a dependency despite the prompt loses to the part that owns it.
    """
    imports: list[str] = []
    bodies: list[str] = []
    defined: set[str] = set()
    for code in codes:
        try:
            tree = ast.parse(code)
        except SyntaxError:
            bodies.append(code.strip())
            continue
        lines = code.splitlines()
        for node in tree.body:
            start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
            seg = "\n".join(lines[start - 1 : node.end_lineno])
            if isinstance(node, ast.Import | ast.ImportFrom):
                if seg not in imports:
                    imports.append(seg)
                continue
            name = getattr(node, "name", None)
            if name in defined:
                continue
            if name:
                defined.add(name)
            bodies.append(seg)
    head = "\n".join(imports) + "\n\n\n" if imports else ""
    return head + "\n\n\n".join(bodies) + "\n"
