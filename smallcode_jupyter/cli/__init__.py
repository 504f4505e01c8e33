"""The ``smallcode`` command: models, doctor, ask, demo, index, search and bench.

One module per command group (:mod:`.models`, :mod:`.doctor`, :mod:`.ask`, :mod:`.demo`,
:mod:`.context`, :mod:`.bench`), each registering its subcommands; :mod:`.options` declares the
options they share once. Every command works through one
:class:`~smallcode_jupyter.session.Session`: none resolves or loads a model, or builds a sandbox,
itself.
"""

from __future__ import annotations

from .main import build_parser, main

__all__ = ["build_parser", "main"]
