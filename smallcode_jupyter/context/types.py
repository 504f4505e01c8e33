"""What retrieval hands the loop: a :class:`Snippet` and the :class:`ContextProvider` protocol.

The retrieval itself (notebook, project, corpora, the editor's cells, or your own provider)
plugs in through :class:`ContextProvider`; the loop only asks for snippets per (sub-)task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class LiveState:
    """The notebook's live variables a task refers to, as the loop gets them.

    ``description`` is what the model reads. ``blobs`` are copies (cloudpickle, protocol 5) of
    the variables that could be copied, keyed by name, with a ``fingerprints`` entry each, so a
    sandbox that already holds an unchanged copy is not sent it again; ``imports`` are module
    aliases (``pd`` → ``pandas``) re-imported there, ``reruns`` the cells re-run there to rebuild
    what cannot be copied, ``skipped`` what is left out and why. ``user_names`` are every
    variable the user has, so the loop can tell when code would overwrite one.
    """

    description: str
    names: tuple[str, ...] = ()
    blobs: Mapping[str, bytes] = field(default_factory=dict)
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    imports: Mapping[str, str] = field(default_factory=dict)
    reruns: Mapping[str, str] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)
    user_names: frozenset[str] = frozenset()
    data_names: frozenset[str] | None = None  # user_names minus modules, functions and classes
    seconds: float = 0.0

    @property
    def copied(self) -> tuple[str, ...]:
        return tuple(self.blobs)


@dataclass(frozen=True)
class FailedCell:
    """A notebook cell that raised: its source and its (trimmed) traceback."""

    source: str
    error: str
