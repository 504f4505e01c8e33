"""How the loop drives a model of a given size: settings per size class, and Edge Mode.

A small model needs a different loop than a 7B one: more diverse candidates (it rarely repairs
its own code from feedback), a smaller context budget, and decomposition only when it helps.
Any model maps onto a size class from its parameter count (a preset's, or the GGUF's metadata).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..models.store import ResolvedModel


@dataclass(frozen=True)
class LoopSettings:
    """How the agent loop drives a model of a given size."""

    n_ctx: int = 4096  # context window to allocate (tokens)
    context_budget: int = 1024  # tokens of retrieved context per call
    max_tokens: int = 512  # completion tokens per generation
    max_iters: int = 2  # repair rounds after the first candidates
    candidates: int = 4  # candidates per (sub-)task, the greedy one included
    temperature: float = 0.8  # sampling temperature of the extra candidates
    decompose: bool = True  # allow splitting non-atomic tasks into sub-tasks
    vote: bool = True  # functions with checks: greedy unless in doubt, then behaviour voting
    batch: bool = True  # in doubt: decode the samples of one prompt together (LLM.chat_batch)
    # Also doubt a greedy answer that passes every check but raises on a model-written input (one
    # more call on every task). Measured on HumanEval, 0.5B: 7 such doubts, all 7 greedy answers
    # right (the inputs were invalid), 0 wins, ~3.8 s on every task: off.
    probe_greedy: bool = False
    # Functions with visible checks (the voted strategy) may trade repair rounds for samples
    # (None: as ``candidates`` / ``max_iters``).
    vote_candidates: int | None = None
    vote_repairs: int | None = None
    batch_size: int = 0  # samples per batch, sampling stops between batches once settled (0: one batch)
    agree: int = 2  # passing candidates that must behave alike before sampling stops


# 0.3B-1B: repair from feedback rarely works; diverse samples filtered by tests do. Measured
# on HumanEval (docs/benchmarks.md, issue 14): for functions with checks, 9 samples and no
# repair beat 5 samples and 2 repairs (41-task sample: 32 vs 29; all 164: 72.6 % vs 70.1 %);
# stopping after the batch that holds a passing candidate chose the same on every sample task.
SMALL = LoopSettings(
    n_ctx=4096,
    context_budget=1024,
    max_iters=2,
    candidates=5,
    vote_candidates=9,
    vote_repairs=0,
    batch_size=4,
    agree=1,
)

SIZE_CLASSES: dict[str, LoopSettings] = {
    # < 0.3B: barely writes code; keep everything short so tests stay fast.
    "tiny": LoopSettings(
        n_ctx=2048, context_budget=384, max_tokens=256, max_iters=1, candidates=2, decompose=False
    ),
    "small": SMALL,
    # 1B-4B: the same schedule for functions with checks, a larger retrieval budget. Measured on
    # HumanEval, 1.5B (all 164): 78.7 % either way (129 tasks; 4 candidates + 2 repairs before),
    # median 12.5 s against 15.7 s, mean 24.6 s against 26.1 s, 0 broken against its greedy one.
    "medium": replace(SMALL, context_budget=1536, candidates=4),
    # 4B-8B and above: stronger repair, larger window, fewer samples (each is slow).
    "large": LoopSettings(n_ctx=8192, context_budget=2048, max_iters=3, candidates=3),
}

# Edge Mode: a 4 GB machine. Small window (KV cache), lean retrieval, fewer candidates.
EDGE_SETTINGS = LoopSettings(
    n_ctx=2048, context_budget=384, max_tokens=384, max_iters=1, candidates=3, decompose=False, batch=False
)


def size_class(params_b: float) -> str:
    """Map a parameter count (billions) to a size class."""
    if params_b < 0.3:
        return "tiny"
    if params_b < 1.0:
        return "small"
    if params_b < 4.0:
        return "medium"
    return "large"


def settings_for(
    params_b: float | None, context_length: int | None = None, edge: bool = False
) -> LoopSettings:
    """The loop settings for a model of ``params_b`` billion parameters trained on
    ``context_length`` tokens (unknown size: the 1B class); Edge Mode overrides both."""
    if edge:
        return EDGE_SETTINGS
    settings = SIZE_CLASSES[size_class(params_b or 1.0)]
    if context_length:
        settings = replace(settings, n_ctx=min(settings.n_ctx, context_length))
    return settings


def settings_for_model(model: ResolvedModel, edge: bool = False) -> LoopSettings:
    """The loop settings for a resolved model: its preset's size, else its GGUF metadata's."""
    if model.preset is not None:
        return settings_for(model.preset.params_b, model.preset.n_ctx_train, edge)
    return settings_for(model.info.params_b, model.info.context_length, edge)
