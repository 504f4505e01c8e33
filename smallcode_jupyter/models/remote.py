"""A model behind an OpenAI-compatible server, with the same ``ChatModel`` face as the in-process one.

Chat completions are streamed (the greedy candidate reaches the view as it is written). What the
server cannot do is left out rather than faked: without prefill (Ollama, llama-cpp-python's
server, hosted APIs) the code is taken from the reply's fence and the loop skips its
stub-continuation candidate; without a JSON-schema constraint there is no plan. Stop strings are
also applied here, so a server that ignores them costs tokens but never changes the answer.
Several samples of one prompt (``chat_batch``) are requested concurrently, at most ``parallel``
at a time (the server's slot count by default).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .http import Endpoint, ServerError
from .llm import Completion, Message, TokenCallback
from .servers import ServerInfo

ESTIMATE_CHARS_PER_TOKEN = 3.5  # code and English with a BPE vocabulary of ~150k tokens


class RemoteModel:
    """A model on a server (see :func:`connect`); safe to call from several threads."""

    def __init__(self, info: ServerInfo, endpoint: Endpoint, parallel: int = 0) -> None:
        self.info, self.endpoint = info, endpoint
        self.name = info.model
        self.prefill = info.prefill
        self.structured = info.structured
        self.n_ctx = info.n_ctx or 4096
        self.parallel = max(1, parallel or info.slots or 1)
        self.tokens_estimated = not info.tokenize
        self._token_cache: dict[str, int] = {}

    @property
    def batches(self) -> bool:
        """Whether :meth:`chat_batch` is faster than one request after another: the server decodes
        several at once (``parallel`` > 1), or it is ``smallcode serve`` (one batched request)."""
        return self.parallel > 1 or self.info.kind == "smallcode"

    # -- counting -------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by the server's tokenizer where it offers one, else estimated
        (``tokens_estimated``) from its length."""
        if not text:
            return 0
        if text in self._token_cache:
            return self._token_cache[text]
        n = self._tokenize(text)
        if len(self._token_cache) > 4096:
            self._token_cache.clear()
        self._token_cache[text] = n
        return n

    def _tokenize(self, text: str) -> int:
        kind = self.info.tokenize
        try:
            if kind == "llama":
                return len(self.endpoint.post("/tokenize", {"content": text}, root=True)["tokens"])
            if kind == "extras":
                return len(self.endpoint.post("/extras/tokenize", {"input": text}, root=True)["tokens"])
            if kind == "vllm":
                out = self.endpoint.post("/tokenize", {"model": self.name, "prompt": text}, root=True)
                return int(out.get("count") or len(out["tokens"]))
        except (ServerError, KeyError, TypeError):
            self.tokens_estimated = True
        return max(1, round(len(text) / ESTIMATE_CHARS_PER_TOKEN))

    # -- chat -----------------------------------------------------------------------------------
    def body(
        self,
        messages: Sequence[Message],
        *,
        prefill: str,
        max_tokens: int,
        temperature: float,
        seed: int | None,
        stop: Sequence[str],
        grammar: str | None,
        json_schema: Mapping[str, object] | None,
    ) -> dict[str, Any]:
        """The request body in the dialect of this server."""
        kind = self.info.kind
        msgs = [dict(m) for m in messages]
        if prefill and self.prefill:
            msgs.append({"role": "assistant", "content": prefill})
        body: dict[str, Any] = {
            "model": self.name,
            "messages": msgs,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": 0.95 if temperature > 0 else 1.0,
            "stream": True,
        }
        if kind != "openai":  # the llama.cpp family, vLLM and Ollama accept these; OpenAI refuses them
            body.update(top_k=40 if temperature > 0 else 1, min_p=0.05)
        if kind in ("llama-server", "smallcode", "vllm", "openai"):
            body["stream_options"] = {"include_usage": True}
        if prefill and self.prefill and kind in ("vllm", "llama-server"):
            body.update(continue_final_message=True, add_generation_prompt=False)
        if seed is not None:
            body["seed"] = seed
        stops = [s for s in stop if s]
        if stops:
            body["stop"] = stops[:4]  # OpenAI's limit; the rest are applied here
        if grammar and kind in ("llama-server", "smallcode", "llama-cpp-python"):
            body["grammar"] = grammar
        elif json_schema is not None and self.structured:
            if kind == "llama-cpp-python":
                body["response_format"] = {"type": "json_object", "schema": dict(json_schema)}
            else:
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "reply", "schema": dict(json_schema), "strict": False},
                }
        return body

    def chat(
        self,
        messages: Sequence[Message],
        *,
        prefill: str = "",
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int | None = None,
        stop: Sequence[str] = (),
        grammar: str | None = None,
        json_schema: Mapping[str, object] | None = None,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Completion:
        """The assistant's reply, streamed; ``prefill`` is continued where the server can
        (``self.prefill``), else left out: the reply then starts from scratch."""
        body = self.body(
            messages,
            prefill=prefill,
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
            stop=stop,
            grammar=grammar,
            json_schema=json_schema,
        )
        return self._complete(body, [s for s in stop if s], on_token, cancel, prefill if self.prefill else "")

    def chat_batch(
        self,
        messages: Sequence[Message],
        *,
        n: int,
        prefill: str = "",
        max_tokens: int = 512,
        temperature: float = 0.8,
        seeds: Sequence[int],
        stop: Sequence[str] = (),
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        """``n`` samples of one prompt, requested concurrently (``parallel`` at a time)."""
        if len(seeds) != n:
            raise ValueError(f"chat_batch needs one seed per sample: n={n}, {len(seeds)} seeds")

        def one(seed: int) -> Completion:
            return self.chat(
                messages,
                prefill=prefill,
                max_tokens=max_tokens,
                temperature=temperature,
                seed=seed,
                stop=stop,
                cancel=cancel,
            )

        if self.info.kind == "smallcode" and n > 1:  # smallcode serve decodes them in one batch
            return self._batch(messages, prefill, max_tokens, temperature, seeds, stop)
        if self.parallel == 1 or n == 1:
            return [one(s) for s in seeds]
        with ThreadPoolExecutor(
            max_workers=min(self.parallel, n), thread_name_prefix="smallcode-sample"
        ) as pool:
            return list(pool.map(one, seeds))

    def _batch(
        self,
        messages: Sequence[Message],
        prefill: str,
        max_tokens: int,
        temperature: float,
        seeds: Sequence[int],
        stop: Sequence[str],
    ) -> list[Completion]:
        """``smallcode serve``'s batch: one request for ``n`` samples with their seeds."""
        body = self.body(messages, prefill=prefill, max_tokens=max_tokens, temperature=temperature,
                         seed=seeds[0], stop=stop, grammar=None, json_schema=None)  # fmt: skip
        body.update(stream=False, n=len(seeds), seeds=list(seeds))
        body.pop("stream_options", None)
        t0 = time.perf_counter()
        reply = self.endpoint.post("/chat/completions", body)
        seconds = time.perf_counter() - t0
        out = []
        for choice in reply.get("choices") or []:
            usage = choice.get("usage") or {}
            text = (choice.get("message") or {}).get("content") or ""
            out.append(Completion(text, int(usage.get("prompt_tokens") or 0),
                                  int(usage.get("completion_tokens") or 0), seconds, None,
                                  _finish(str(choice.get("finish_reason") or "stop"))))  # fmt: skip
        if len(out) != len(seeds):
            raise ServerError(f"the service at {self.endpoint.url} sent {len(out)} samples, not {len(seeds)}")
        return out

    def _complete(
        self,
        body: dict[str, Any],
        stop: list[str],
        on_token: TokenCallback | None,
        cancel: threading.Event | None,
        prefill: str = "",
    ) -> Completion:
        """Read a streamed reply. Some servers (llama-server builds that continue a final
        assistant message on their own) repeat the ``prefill`` before continuing it: the repeat
        is dropped, so the reply is the continuation alone, as in-process."""
        t0 = time.perf_counter()
        first: float | None = None
        text, finish = "", ""
        echo = prefill
        usage: dict[str, Any] = {}
        stream = self.endpoint.stream("/chat/completions", body, cancel)
        try:
            for event in stream:
                if isinstance(event.get("usage"), dict):
                    usage = event["usage"]
                choices = event.get("choices") or []
                if not choices:
                    continue
                choice = choices[0]
                delta = choice.get("delta") or {}
                piece = delta.get("content") or choice.get("text") or ""
                if piece:
                    if first is None:
                        first = time.perf_counter() - t0
                    shown = len(text)
                    text += piece
                    # until the reply is known to repeat the prefill or not, nothing is shown
                    held = bool(echo) and len(text) < len(echo) and echo.startswith(text)
                    if echo and not held:
                        text = piece = text.removeprefix(echo)
                        shown, echo = 0, ""
                    cut = None if held else _first_stop(text, stop)
                    if cut is not None:  # the server ignored a stop string
                        text, finish = text[:cut], "stop"
                        if on_token and cut > shown:
                            on_token(text[shown:])
                        break
                    if on_token and piece and not held:
                        on_token(piece)
                if choice.get("finish_reason"):
                    finish = str(choice["finish_reason"])
        finally:
            stream.close()
        if not finish:  # [DONE] without a finish reason, or stopped by the user
            finish = "cancelled" if cancel is not None and cancel.is_set() else "stop"
        n_out = int(usage.get("completion_tokens") or 0) or self.count_tokens(text) + (finish == "stop")
        n_in = int(usage.get("prompt_tokens") or 0) or self.count_tokens(_prompt_text(body))
        return Completion(text, n_in, n_out, time.perf_counter() - t0, first, _finish(finish))

    def models(self) -> list[str]:
        """The models the server lists now."""
        listing = self.endpoint.get("/models", timeout=10)
        return [str(m.get("id")) for m in listing.get("data") or [] if isinstance(m, dict) and m.get("id")]


def _first_stop(text: str, stop: list[str]) -> int | None:
    cuts = [i for s in stop if (i := text.find(s)) >= 0]
    return min(cuts) if cuts else None


def _finish(reason: str) -> str:
    return reason if reason in ("stop", "length", "cancelled") else "stop"


def _prompt_text(body: Mapping[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


def connect(
    spec: str,
    *,
    base_url: str = "",
    api_model: str = "",
    key_env: str = "",
    parallel: int = 0,
    timeout: float = 120.0,
    n_ctx: int = 0,
    params_b: float = 0.0,
) -> RemoteModel:
    """Reach the server ``spec`` names (or ``base_url``), check its model and learn what it can
    do; ``n_ctx``/``params_b`` declare what the server does not report. The key is read from the
    environment variable ``key_env`` at each connect and kept in memory only."""
    import os
    from dataclasses import replace

    from .servers import DEFAULT_KEY_ENV, parse_spec, probe

    try:
        server = parse_spec(spec, base_url, api_model)
    except ValueError as e:
        raise ServerError(str(e)) from e
    key_env = key_env or DEFAULT_KEY_ENV
    endpoint = Endpoint(server.url, timeout, os.environ.get(key_env, ""), key_env)
    info = probe(endpoint, server)
    if n_ctx:
        info = replace(info, n_ctx=n_ctx)
    if params_b:
        info = replace(info, params_b=params_b)
    return RemoteModel(info, endpoint, parallel)
