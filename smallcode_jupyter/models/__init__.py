"""Model presets, GGUF metadata, model-file resolution and the llama.cpp facade (``llm``)."""

from .catalog import DEFAULT_MODEL, PRESETS, Preset
from .gguf import GGUFError, GGUFInfo, read_gguf
from .store import ModelError, ResolvedModel, availability, default_cache_dir, resolve

__all__ = [
    "DEFAULT_MODEL",
    "PRESETS",
    "GGUFError",
    "GGUFInfo",
    "ModelError",
    "Preset",
    "ResolvedModel",
    "availability",
    "default_cache_dir",
    "read_gguf",
    "resolve",
]
