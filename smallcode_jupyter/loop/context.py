"""The context stage: gather what each call should see, under a token budget.

The retrieval itself (notebook, project, corpora) plugs in through :class:`ContextProvider`;
this stage only asks for snippets per (sub-)task and packs the best of them into the budget,
counted with the model's own tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Snippet:
    """A piece of retrieved context and where it came from (``file:line``)."""

    text: str
    source: str
    score: float = 0.0


class ContextProvider(Protocol):
    """Anything that can return snippets relevant to a query, best first."""

    def retrieve(self, query: str, k: int = 8) -> Sequence[Snippet]: ...


def pack(snippets: Sequence[Snippet], budget: int, count_tokens: Callable[[str], int]) -> list[Snippet]:
    """The best snippets, in order, whose total tokens fit ``budget`` (skipping ones too big)."""
    chosen, used = [], 0
    for s in snippets:
        cost = count_tokens(s.text) + 8  # the source line and separators
        if used + cost <= budget:
            chosen.append(s)
            used += cost
    return chosen


def render(snippets: Sequence[Snippet]) -> str:
    """Snippets as one context block, each headed by its source."""
    return "\n\n".join(f"# {s.source}\n{s.text.strip()}" for s in snippets)
