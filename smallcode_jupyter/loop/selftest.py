"""Tests the model writes itself (weak evidence: see ``vote.dual`` for how much they count).

Self-written tests are known to mislead small models: a wrong expected value makes the loop
"repair" correct code. So they are only used when the user gave no tests and the prompt has no
examples, a model test only counts where candidates agree with it (dual agreement), and what
they say is reported as evidence: the code they pick stays unverified (see strategies/self_tested).
"""

from __future__ import annotations

import threading

from ..models.llm import ChatModel, prefills
from . import selftest_prompts as P
from .checks import Check, checks_from_model_output
from .code import extract_code
from .events import Usage


def write_tests(
    llm: ChatModel, spec: str, entry: str, usage: Usage, n: int = 5, cancel: threading.Event | None = None
) -> list[Check]:
    """Ask the model for ``n`` asserts on ``entry``; keep the well-formed ones."""
    messages = [
        {"role": "system", "content": P.SYSTEM},
        {"role": "user", "content": P.WRITE.format(n=n, entry=entry, spec=spec.strip())},
    ]
    if not prefills(llm):  # a server that cannot continue the fence: the asserts come from the reply
        out = llm.chat(messages, max_tokens=320, cancel=cancel)
        usage.add(out)
        return checks_from_model_output(extract_code(out.text, prefilled=False), entry)[:n]
    out = llm.chat(
        messages, prefill=f"```python\nassert {entry}(", max_tokens=320, stop=("\n```",), cancel=cancel
    )
    usage.add(out)
    return checks_from_model_output(f"assert {entry}(" + out.text.split("```")[0], entry)[:n]
