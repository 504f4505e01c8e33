"""Tests the model writes itself, and the vote that decides which of them to believe.

Self-written tests are known to mislead small models: a wrong expected value makes the loop
"repair" correct code. So they are only used when the user gave no tests and the prompt has no
examples, a model test only counts if a majority of the candidates agree with it, and what they
say is reported as evidence: the code they pick stays unverified (see strategies/self_tested).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ..models.llm import ChatModel
from . import selftest_prompts as P
from .checks import Check, checks_from_model_output
from .events import Usage


def write_tests(
    llm: ChatModel, spec: str, entry: str, usage: Usage, n: int = 5, cancel: threading.Event | None = None
) -> list[Check]:
    """Ask the model for ``n`` asserts on ``entry``; keep the well-formed ones."""
    messages = [
        {"role": "system", "content": P.SYSTEM},
        {"role": "user", "content": P.WRITE.format(n=n, entry=entry, spec=spec.strip())},
    ]
    out = llm.chat(
        messages, prefill=f"```python\nassert {entry}(", max_tokens=320, stop=("\n```",), cancel=cancel
    )
    usage.add(out)
    return checks_from_model_output(f"assert {entry}(" + out.text.split("```")[0], entry)[:n]


def vote(outcomes: Sequence[Sequence[bool]]) -> list[bool]:
    """Which tests to keep: those passed by a strict majority of the candidates that loaded.

    ``outcomes[c][t]`` is whether candidate ``c`` passed test ``t``. With a single candidate
    there is nobody to agree with, so its verdicts stand.
    """
    if not outcomes:
        return []
    n_tests = len(outcomes[0])
    if len(outcomes) == 1:
        return [True] * n_tests
    return [sum(o[t] for o in outcomes) * 2 > len(outcomes) for t in range(n_tests)]
