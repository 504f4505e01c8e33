"""Prompts for tests the model writes itself (weak evidence: they are voted on, see selftest)."""

SYSTEM = "You are an expert Python tester. You write precise assert statements."

WRITE = (
    "Write {n} assert statements that test `{entry}` as specified below, each on one line, with "
    "concrete inputs and the exact expected result. Cover normal cases and edge cases.\n"
    "```python\n{spec}\n```"
)
