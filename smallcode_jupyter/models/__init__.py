"""Model presets, GGUF metadata and model-file resolution."""

from .catalog import DEFAULT_MODEL, EDGE_SETTINGS, PRESETS, LoopSettings, Preset
from .gguf import GGUFError, GGUFInfo, read_gguf
from .store import ModelError, ResolvedModel, availability, default_cache_dir, resolve

__all__ = [
    "DEFAULT_MODEL",
    "EDGE_SETTINGS",
    "PRESETS",
    "GGUFError",
    "GGUFInfo",
    "LoopSettings",
    "ModelError",
    "Preset",
    "ResolvedModel",
    "availability",
    "default_cache_dir",
    "read_gguf",
    "resolve",
]
