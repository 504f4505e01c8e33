"""Retrieval for the loop's context stage: the live notebook, the project and local corpora.

Import is cheap on purpose (``%load_ext`` must not pull in torch or usearch): the embedder and
the vector index load on first use. Entry points: :class:`~.retriever.Retriever` (a
``ContextProvider``), :class:`~.index.ProjectIndex` and :func:`~.chunking.chunk_file`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .chunking import Chunk
    from .index import ProjectIndex
    from .retriever import Retriever

__all__ = ["Chunk", "ProjectIndex", "Retriever"]


def __getattr__(name: str) -> object:  # lazy re-exports, so `import smallcode_jupyter.context` stays cheap
    if name == "Chunk":
        from .chunking import Chunk

        return Chunk
    if name == "ProjectIndex":
        from .index import ProjectIndex

        return ProjectIndex
    if name == "Retriever":
        from .retriever import Retriever

        return Retriever
    raise AttributeError(name)
