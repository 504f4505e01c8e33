"""Prompts for the inputs the model writes (inputs only: what to call, never what should come back)."""

SYSTEM = "You are an expert Python tester. You choose inputs that tell correct code from wrong code."

WRITE = (
    "```python\n{spec}\n```\n"
    "Write {n} different, valid inputs for `{entry}` as a JSON list. Each item is the list of "
    "the arguments of one call. Choose inputs the description allows, including edge "
    "cases (empty, single, equal, negative or large values) and cases where a careless "
    "implementation goes wrong."
)
