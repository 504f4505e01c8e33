"""What retrieval hands the loop: a :class:`Snippet` and the :class:`ContextProvider` protocol.

The retrieval itself (notebook, project, corpora, the editor's cells, or your own provider)
plugs in through :class:`ContextProvider`; the loop only asks for snippets per (sub-)task.
"""

from __future__ import annotations

from collections.abc import Sequence
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
