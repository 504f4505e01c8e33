"""Model servers: which spec names one, and what a running server says about itself.

A spec names a server when it is ``openai:URL[/MODEL]`` (any OpenAI-compatible endpoint: llama.cpp's
llama-server, vLLM, llama-cpp-python's server, a hosted API), a bare ``http(s)://`` URL,
``ollama:NAME`` (Ollama's OpenAI-compatible endpoint, ``$OLLAMA_HOST`` or localhost:11434) or
``serve`` (the user's own shared service, ``smallcode serve``, on a Unix socket only they can open).

:func:`probe` asks the server what it is (llama-server answers ``/props``, vLLM lists
``max_model_len``, Ollama answers ``/api/version``), which models it serves, its context length,
its parameter count and how many requests it runs at once, and from that what it can do: continue
a prefilled assistant message, constrain output to a JSON schema, count tokens.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .gate import runtime_dir
from .http import Endpoint, ServerError

OLLAMA_DEFAULT = "http://localhost:11434"
DEFAULT_KEY_ENV = "SMALLCODE_API_KEY"


def serve_socket() -> Path:
    """Where ``smallcode serve`` listens: ``$SMALLCODE_SERVE_SOCKET``, else a socket in the user's
    runtime directory (``$XDG_RUNTIME_DIR``) or cache, in a folder only the user can open."""
    env = os.environ.get("SMALLCODE_SERVE_SOCKET")
    return Path(env).expanduser() if env else runtime_dir() / "serve.sock"


@dataclass(frozen=True)
class ServerSpec:
    """A model on a server: the base URL (ending in /v1), the model id ('' = the server's own)."""

    url: str
    model: str = ""
    kind: str = ""  # a hint from the spec: "ollama" or "smallcode"; '' = find out

    @property
    def label(self) -> str:
        return f"{self.model or '(server default)'} @ {self.url}"


def is_server_spec(spec: str) -> bool:
    """Whether ``spec`` names a model server rather than a preset or a file."""
    s = spec.strip()
    return s.lower() in ("serve", "serve:") or s.startswith(("openai:", "ollama:", "http://", "https://"))


def parse_spec(spec: str, base_url: str = "", api_model: str = "") -> ServerSpec:
    """The server a spec (or the ``base_url``/``api_model`` traits) names; ValueError if none."""
    s = spec.strip()
    if base_url:
        return ServerSpec(_v1(base_url.rstrip("/")), api_model)
    if s.lower() in ("serve", "serve:"):
        return ServerSpec(
            "http+unix://" + quote(str(serve_socket()), safe="") + "/v1", api_model, "smallcode"
        )
    if s.startswith("ollama:"):
        name = s[len("ollama:") :].strip()
        host = os.environ.get("OLLAMA_HOST", "").strip() or OLLAMA_DEFAULT
        if not host.startswith(("http://", "https://")):
            host = "http://" + host
        return ServerSpec(host.rstrip("/") + "/v1", name or api_model, "ollama")
    if s.startswith("openai:"):
        s = s[len("openai:") :]
    if not s.startswith(("http://", "https://", "http+unix://")):
        raise ValueError(f"not a server spec: {spec!r} (expected openai:http://HOST:PORT/v1/MODEL)")
    head, sep, model = s.partition("/v1/")
    if sep:
        return ServerSpec(head + "/v1", model.strip("/") or api_model)
    return ServerSpec(_v1(s.rstrip("/")), api_model)


def _v1(url: str) -> str:
    return url if url.endswith("/v1") else url + "/v1"


@dataclass(frozen=True)
class ServerInfo:
    """What a running server said about itself and the model chosen on it."""

    spec: ServerSpec
    kind: str  # "llama-server", "smallcode", "vllm", "ollama", "llama-cpp-python" or "openai"
    model: str  # the model id requests name
    models: tuple[str, ...] = ()  # every model the server lists
    n_ctx: int | None = None  # the context window the server runs the model with
    params_b: float | None = None  # parameters (billions): the loop's size class
    slots: int = 1  # requests the server decodes at once
    prefill: bool = False  # continues a final assistant message (llama-server, vLLM, smallcode)
    structured: bool = True  # constrains output to a JSON schema
    tokenize: str = ""  # "llama" (/tokenize content), "vllm" (/tokenize prompt), "extras"; '' = estimate
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        return f"{self.model} on {self.kind} at {self.spec.url}"


# Servers known to continue a final assistant message: llama-server does it natively, vLLM with
# continue_final_message, smallcode serve like llama-server. Ollama's OpenAI endpoint and
# llama-cpp-python's server start a new assistant turn instead, so no prefill there.
PREFILL_KINDS = frozenset({"llama-server", "smallcode", "vllm"})


def probe(endpoint: Endpoint, spec: ServerSpec, timeout: float = 10.0) -> ServerInfo:
    """Ask the server what it is and check the model is there (ServerError: it is not, with the
    list of the server's models)."""
    listing = endpoint.get("/models", timeout=timeout)
    entries = [m for m in (listing.get("data") or listing.get("models") or []) if isinstance(m, dict)]
    ids = tuple(str(m.get("id") or m.get("name") or "") for m in entries if m.get("id") or m.get("name"))
    model = _choose(spec, ids, endpoint)
    entry = next((m for m in entries if m.get("id") == model), entries[0] if entries else {})
    kind = spec.kind or _kind(endpoint, entry, timeout)
    info = ServerInfo(spec, kind, model, ids, prefill=kind in PREFILL_KINDS)
    raw_meta = entry.get("meta")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    params = _number(meta.get("n_params"))
    info = replace(info, params_b=params / 1e9 if params else None)
    if kind in ("llama-server", "smallcode"):
        props = _try(endpoint, "/props", timeout)
        gen = props.get("default_generation_settings") or {}
        n_ctx = _number(gen.get("n_ctx")) or _number(props.get("n_ctx")) or _number(meta.get("n_ctx_train"))
        info = replace(
            info,
            n_ctx=int(n_ctx) if n_ctx else None,
            slots=int(_number(props.get("total_slots")) or 1),
            tokenize="llama",
            params_b=info.params_b or _number(props.get("params_b")),
            details=props,
        )
    elif kind == "vllm":
        info = replace(info, n_ctx=_int(entry.get("max_model_len")), slots=8, tokenize="vllm")
    elif kind == "ollama":
        show = _try(endpoint, "/api/show", timeout, {"model": model})
        minfo = show.get("model_info") or {}
        arch = str(minfo.get("general.architecture", ""))
        trained = _int(minfo.get(f"{arch}.context_length"))
        count = _number(minfo.get("general.parameter_count"))
        # Ollama runs a model with a 4096-token window unless num_ctx says otherwise.
        info = replace(
            info,
            n_ctx=min(4096, trained) if trained else 4096,
            params_b=count / 1e9 if count else None,
            slots=int(os.environ.get("OLLAMA_NUM_PARALLEL", "1") or 1),
            details=show.get("details") or {},
        )
    elif kind == "llama-cpp-python":
        info = replace(info, tokenize="extras")
    if info.params_b is None:
        info = replace(info, params_b=params_from_name(model))
    return info


def _choose(spec: ServerSpec, ids: tuple[str, ...], endpoint: Endpoint) -> str:
    if not spec.model:
        if not ids:
            raise ServerError(
                f"the model server at {endpoint.url} lists no models; name one: openai:{spec.url}/MODEL"
            )
        return ids[0]
    if not ids or spec.model in ids:
        return spec.model
    if f"{spec.model}:latest" in ids:  # Ollama's default tag
        return f"{spec.model}:latest"
    raise ServerError(
        f"unknown model {spec.model!r} on the server at {endpoint.url}. It serves: {', '.join(ids)}"
    )


def _kind(endpoint: Endpoint, entry: dict[str, Any], timeout: float) -> str:
    owner = str(entry.get("owned_by", ""))
    if owner == "vllm" or "max_model_len" in entry:
        return "vllm"
    if owner == "smallcode":
        return "smallcode"
    if owner == "me":  # llama-cpp-python's server
        return "llama-cpp-python"
    props = _try(endpoint, "/props", timeout)
    if "default_generation_settings" in props:
        return "llama-server"
    if "version" in _try(endpoint, "/api/version", timeout):
        return "ollama"
    return "openai"


def _try(endpoint: Endpoint, path: str, timeout: float, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """GET (or POST ``body`` to) ``path`` at the server's root; {} when it is not there."""
    try:
        out = (
            endpoint.post(path, body, timeout, root=True) if body else endpoint.get(path, timeout, root=True)
        )
    except ServerError as e:
        if e.status in (401, 403):
            raise
        return {}
    return out if isinstance(out, dict) else {}


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and v > 0 else None


def _int(v: Any) -> int | None:
    n = _number(v)
    return int(n) if n else None


def params_from_name(name: str) -> float | None:
    """Billions of parameters from a model name ("qwen2.5-coder:7b", "Qwen2.5-Coder-0.5B-Instruct")."""
    found = re.findall(r"(?<![\d.])(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])", name)
    return float(found[-1]) if found else None
