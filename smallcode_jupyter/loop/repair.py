"""The repair stage: turn the best failing candidate and its failure into new candidates.

Each prompt is rebuilt from the task, the current code and the latest failure only, so the
conversation never grows, and it is trimmed to the context budget.
"""

from __future__ import annotations

from ..models.llm import Message
from . import generate_prompts as G
from . import repair_prompts as P


def _trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit // 2] + "\n...\n" + text[-limit // 2 :]


def repair_messages(task_user: str, code: str, failure: str, rewrite: bool) -> list[Message]:
    """A fix (shows the code) or a rewrite (shows only the hint) for the failing candidate."""
    failure = _trim(failure, 600)
    if rewrite:
        content = P.REWRITE.format(task_block=task_user, failure=failure.rstrip("."))
    else:
        content = P.FIX.format(task_block=task_user, code=_trim(code, 4000), failure=failure)
    return [{"role": "system", "content": G.SYSTEM}, {"role": "user", "content": content}]
