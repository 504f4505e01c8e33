"""Pack retrieved snippets into a token budget, counted with the model's own tokenizer."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .types import Snippet


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
