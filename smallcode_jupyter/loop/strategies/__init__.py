"""How the loop spends its calls on a task: one small class per strategy.

- :class:`Single`: candidates against the user's checks, then bounded repair.
- :class:`Voted`: a function with checks; the greedy one unless in doubt, then behaviour voting.
- :class:`SelfTested`: no checks given; candidates vote by behaviour, the model's tests by agreement.
- :class:`Parts`: a planned task, one small call per part, assembled and tested together.
- :class:`BestOf`: the equal-compute baseline of the benchmarks, sampling to a token budget.

Each takes a :class:`Job` (the generator, verifier, result, cancel flag and sink they share) and
returns a :class:`Best`; the pipeline picks one per request.
"""

from typing import Protocol

from .bestof import BestOf
from .job import Best, Job, Tried, Unit
from .parts import Parts
from .repair import repair
from .self_tested import SelfTested
from .single import Single
from .voted import Voted


class Strategy(Protocol):
    """Solves one job; always returns an answer (check its report)."""

    def solve(self) -> Best: ...


__all__ = [
    "Best",
    "BestOf",
    "Job",
    "Parts",
    "SelfTested",
    "Single",
    "Strategy",
    "Tried",
    "Unit",
    "Voted",
    "repair",
]
