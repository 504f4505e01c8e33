"""Prompts of the repair stage.

Two shapes, because greedy "here is your error, fix it" mostly hands back the same code from a
0.5B model: a *fix* that shows the code and the failing check, sampled rather than greedy; and a
*rewrite* that does not show the wrong code at all, only the task and the example it got wrong,
so the model starts fresh with the hint.
"""

FIX = (
    "{task_block}\n\nThis attempt is wrong:\n```python\n{code}\n```\n"
    "It fails: {failure}\n\nWrite the corrected complete code."
)

REWRITE = "{task_block}\n\nCareful: {failure}. Make sure your code handles this case correctly."
