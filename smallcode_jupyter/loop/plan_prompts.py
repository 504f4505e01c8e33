"""Prompts and grammar of the decomposer.

The plan's JSON shape is enforced by a llama.cpp grammar: small models do not reliably write
valid JSON otherwise.
"""

SYSTEM = "You are a senior Python architect. You split programming tasks into small parts."

PLAN = (
    "Split this task into 2 to 6 parts. Each part is one Python function or class, written "
    "separately. Give each a name, its signature, a one-line purpose, and the names of the parts "
    "it uses.\n\nTask: {task}"
)

GRAMMAR = r"""
root ::= "{" ws "\"parts\":" ws "[" ws part (ws "," ws part){1,5} ws "]" ws "}"
part ::= "{" ws "\"name\":" ws ident ws "," ws "\"signature\":" ws str ws "," ws "\"purpose\":" ws str ws "," ws "\"depends\":" ws "[" ws deps? ws "]" ws "}"
deps ::= ident (ws "," ws ident){0,5}
ident ::= "\"" [a-zA-Z_] [a-zA-Z0-9_]{0,40} "\""
str ::= "\"" [^"\\\n]{1,160} "\""
ws ::= [ \t\n]{0,4}
"""
