"""Prompts of the generator stage.

The assistant turn is prefilled with a code fence, so the model writes code at once and the
closing fence ends generation: no chatter to strip, no tokens spent on explanations.
"""

SYSTEM = (
    "You are an expert Python programmer. Write correct, complete, self-contained Python code "
    "with the imports it needs. Reply with one Python code block and nothing else."
)

FENCE = "```python\n"
STOP = ("\n```", "```\n")

STUB = "Complete this Python function. Keep its name and signature.\n```python\n{stub}\n```"

TASK = "Task: {task}"

NOTEBOOK_TASK = (
    "Task: {task}\n"
    "Write the code of one notebook cell. The variables listed above already exist: use them "
    "directly; do not define them again, load them or make up data. Put results in the names the "
    "task gives."
)

FIX_TASK = "Task: make this notebook cell run without the error it raised."

CONTEXT = "Context (examples, tests, constraints, helpers you may use):\n```\n{context}\n```\n\n"

PLAN = "This is one part of a larger program:\n{plan}\n\n"

DEPENDS = "These functions already exist; call them, do not redefine them:\n```python\n{sigs}\n```\n\n"
