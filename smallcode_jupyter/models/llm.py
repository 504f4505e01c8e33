"""One facade over ``llama_cpp.Llama``: load once, chat with the model's own template, stream.

llama.cpp keeps the KV cache of the previous prompt and reuses its longest common prefix, so the
loop's calls (candidates of one prompt, repairs that share the task prefix) pay for the shared
prompt only once. Everything here is synchronous and guarded by a lock: a Llama is not
thread-safe, and the side panel calls the loop from a worker thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from .store import ModelError, ResolvedModel

if TYPE_CHECKING:
    from llama_cpp.llama_chat_format import ChatFormatterResponse
    from llama_cpp.llama_types import CreateCompletionStreamResponse

    Formatter = Callable[..., ChatFormatterResponse]  # llama.cpp's named formats and its Jinja one

Message = dict[str, str]
TokenCallback = Callable[[str], None]


@dataclass
class Completion:
    """A finished (or stopped) generation and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    first_token_seconds: float | None = None
    finish_reason: str = "stop"  # "stop", "length" or "cancelled"

    @property
    def tokens_per_second(self) -> float:
        gen = self.seconds - (self.first_token_seconds or 0.0)
        return self.completion_tokens / gen if gen > 0 else 0.0


class ChatModel(Protocol):
    """What the loop needs from a model; the real LLM and the tests' scripted fake both fit."""

    name: str

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
    ) -> Completion: ...

    def count_tokens(self, text: str) -> int: ...


def prefills(llm: object) -> bool:
    """Whether ``llm`` continues a prefilled assistant message (``prefill=``). In-process models
    do; a server may not (``RemoteModel.prefill``): then the reply starts from scratch."""
    return bool(getattr(llm, "prefill", True))


def structured(llm: object) -> bool:
    """Whether ``llm`` can constrain its output to a JSON schema (``json_schema=``)."""
    return bool(getattr(llm, "structured", True))


def default_threads() -> int:
    """Physical cores available to this process (llama.cpp gains nothing from hyper-threads)."""
    try:
        avail = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        avail = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or avail
    except ImportError:
        physical = avail
    return max(1, min(avail, physical))


def estimate_memory(model: ResolvedModel, n_ctx: int) -> int:
    """Bytes needed to load ``model`` with an ``n_ctx`` window: weights + f16 KV cache + slack."""
    info, arch = model.info, model.info.architecture
    layers = info.integer(f"{arch}.block_count", 32)
    embd = info.integer(f"{arch}.embedding_length", 4096)
    heads = info.integer(f"{arch}.attention.head_count", 32) or 1
    kv_heads = info.integer(f"{arch}.attention.head_count_kv", heads)
    kv = 2 * layers * n_ctx * (embd * kv_heads // heads) * 2
    return model.path.stat().st_size + kv + (150 << 20)


# llama-cpp-python's JSON Schema converter (what ``LlamaGrammar.from_json_schema`` uses) allows at
# most one space between JSON tokens; llama.cpp's own converter allows newlines and indentation.
# Small models indent their JSON (the 0.5B's plans do), and forbidding that changes what they
# write, so up to 4 whitespace characters are allowed, as the planner's hand-written grammar did.
JSON_WHITESPACE = r"[ \t\n]{0,4}"


def json_grammar(schema: Mapping[str, object]) -> str:
    """The GBNF grammar of ``schema``: llama-cpp-python's conversion, whitespace as above."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(schema))
    return re.sub(r"^space ::= .*$", lambda _: f"space ::= {JSON_WHITESPACE}", gbnf, count=1, flags=re.M)


class LLM:
    """A loaded GGUF model. Get one with :func:`load`; it is shared per process."""

    def __init__(self, model: ResolvedModel, n_ctx: int, n_threads: int) -> None:
        import llama_cpp  # lazy: %load_ext must stay cheap

        self.model = model
        self.name = model.name
        self.n_ctx, self.n_threads = n_ctx, n_threads
        self.prefill = True  # continues a prefilled assistant message
        self.structured = True  # constrains output to a JSON schema (a grammar)
        # Called once when a generation has to wait for another process's (models/gate.py); the
        # session points it at the view ("waiting for the model").
        self.on_wait: Callable[[], None] | None = None
        self._lock = threading.Lock()
        t0 = time.perf_counter()
        try:
            self._llama = llama_cpp.Llama(
                model_path=str(model.path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_batch=512,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise ModelError(f"llama.cpp could not load {model.path}: {e}") from e
        self.load_seconds = time.perf_counter() - t0
        self._formatter = self._make_formatter()

    def _make_formatter(self) -> tuple[Formatter, str]:
        """The model's own Jinja chat template, else the preset's named format, else ChatML."""
        from llama_cpp import llama_chat_format as lcf

        template = self.model.info.chat_template
        if self.model.chat_format or not template:
            kind = self.model.chat_format or "chatml"
            return {"chatml": lcf.format_chatml, "llama-2": lcf.format_llama2}[kind], kind

        def text(tok: int) -> str:
            return self._llama.detokenize([tok], special=True).decode("utf-8", "replace")

        eos, bos = self._llama.token_eos(), self._llama.token_bos()
        formatter = lcf.Jinja2ChatFormatter(
            template,
            eos_token=text(eos) if eos >= 0 else "",
            bos_token=text(bos) if bos >= 0 else "",
            stop_token_ids=[eos],
        )
        return formatter, "gguf"

    @property
    def chat_format(self) -> str:
        return self._formatter[1]

    def format(self, messages: Sequence[Message]) -> tuple[str, list[str]]:
        """The prompt text for ``messages`` (generation prompt added) and its stop strings."""
        res = self._formatter[0](messages=list(messages))
        stop = res.stop if isinstance(res.stop, list) else [res.stop] if res.stop else []
        return res.prompt, stop

    def tokenize(self, text: str) -> list[int]:
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

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
        """Generate the assistant's reply, optionally continuing from ``prefill``.

        Greedy when ``temperature`` is 0. ``grammar`` (GBNF) or ``json_schema`` constrains the
        output. ``cancel`` (another thread) or Ctrl-C stops generation after the current token;
        the model stays usable.
        """
        prompt, template_stop = self.format(messages)
        prompt += prefill
        with self._lock, self._gate(cancel) as free:
            if not free:
                return Completion("", 0, 0, 0.0, None, "cancelled")
            return self._generate(
                prompt,
                max_tokens,
                temperature,
                seed,
                [*template_stop, *stop],
                grammar,
                json_schema,
                on_token,
                cancel,
            )

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
        """``n`` sampled replies to one prompt, decoded together in one llama.cpp batch.

        Why: several candidates of one prompt cost less wall time together than one after
        another (one pass over the weights serves every sequence). Same prompt and stop strings
        as :meth:`chat`; one seed per sample (``seeds``), so every sample is reproducible. The
        batch runs in its own short-lived context on this model (see ``models/batch.py``), so
        the prefix cached for :meth:`chat` is left as it was. Not part of ``ChatModel``: the loop
        looks for it with ``getattr`` (``LoopSettings.batch``) and otherwise samples one by one.
        """
        from .batch import sample_batch  # lazy: imports llama_cpp

        if len(seeds) != n:
            raise ValueError(f"chat_batch needs one seed per sample: n={n}, {len(seeds)} seeds")
        prompt, template_stop = self.format(messages)
        prompt += prefill
        with self._lock, self._gate(cancel) as free:
            if not free:
                return [Completion("", 0, 0, 0.0, None, "cancelled") for _ in seeds]
            tokens, room = self._fit(prompt)
            return sample_batch(
                self._llama,
                tokens,
                n=n,
                temperature=temperature,
                seeds=seeds,
                max_tokens=min(max_tokens, room),
                stop=[*template_stop, *stop],
                eos_tokens=[self._llama.token_eos()],
                cancel=cancel,
            )

    @contextlib.contextmanager
    def _gate(self, cancel: threading.Event | None) -> Iterator[bool]:
        """Hold the machine-wide model gate (one generation at a time among the user's
        processes); yields False when ``cancel`` was set while waiting for it."""
        from . import gate

        try:
            with gate.hold(self.on_wait, cancel):
                yield True
        except gate.Stopped:
            yield False

    def _fit(self, prompt: str) -> tuple[list[int], int]:
        """The prompt's tokens and the room left after them in the window (ModelError: none)."""
        tokens = self._llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        room = self.n_ctx - len(tokens)
        if room < 16:
            raise ModelError(
                f"the prompt ({len(tokens)} tokens) does not fit the {self.n_ctx}-token window; "
                "shorten the context or raise n_ctx"
            )
        return tokens, room

    def _generate(
        self,
        prompt: str,
        max_tokens: int,
        temperature: float,
        seed: int | None,
        stop: list[str],
        grammar: str | None,
        json_schema: Mapping[str, object] | None,
        on_token: TokenCallback | None,
        cancel: threading.Event | None,
    ) -> Completion:
        import llama_cpp

        tokens, room = self._fit(prompt)
        kw: dict[str, Any] = {
            "max_tokens": min(max_tokens, room),
            "temperature": temperature,
            "top_k": 40 if temperature > 0 else 1,
            "top_p": 0.95,
            "min_p": 0.05,
            "repeat_penalty": 1.0,
            "stop": [s for s in stop if s] or None,
            "stream": True,
        }
        if seed is not None:
            kw["seed"] = seed
        if grammar:
            kw["grammar"] = llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)
        elif json_schema is not None:
            kw["grammar"] = llama_cpp.LlamaGrammar.from_string(json_grammar(json_schema), verbose=False)
        t0 = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        finish = "stop"
        stream = cast(
            "Generator[CreateCompletionStreamResponse, None, None]",  # stream=True: a generator
            self._llama.create_completion(tokens, **kw),
        )
        try:
            for chunk in stream:
                choice = chunk["choices"][0]
                piece = choice["text"]
                if first is None:
                    first = time.perf_counter() - t0
                if piece:
                    parts.append(piece)
                    if on_token:
                        on_token(piece)
                if reason := choice.get("finish_reason"):
                    finish = reason
                if cancel is not None and cancel.is_set():
                    finish = "cancelled"
                    break
        finally:
            stream.close()
        text = "".join(parts)
        n_out = self.count_tokens(text) + (finish == "stop")
        return Completion(text, len(tokens), n_out, time.perf_counter() - t0, first, finish)


_LOADED: dict[tuple[str, int, int], LLM] = {}  # (model path, n_ctx, n_threads) -> the loaded model
_LOAD_LOCK = threading.Lock()


def load(
    model: ResolvedModel, n_ctx: int | None = None, n_threads: int | None = None, check_memory: bool = True
) -> LLM:
    """The process-wide LLM for ``model`` with these load parameters.

    Only one model stays loaded: loading another frees the previous one, so switching models in a
    notebook never doubles memory.
    """
    n_ctx = n_ctx or min(4096, model.info.context_length or 4096)
    n_threads = n_threads or default_threads()
    key = (str(model.path), n_ctx, n_threads)
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        _LOADED.clear()  # free the previous model before loading the next
        if check_memory:
            import psutil

            need, free = estimate_memory(model, n_ctx), psutil.virtual_memory().available
            if need > free:
                raise ModelError(
                    f"{model.name} needs about {need / 2**30:.1f} GB of RAM with a {n_ctx}-token "
                    f"window, but only {free / 2**30:.1f} GB is free. Use a smaller model, "
                    "Edge Mode (%smallcode edge), or a smaller n_ctx."
                )
        llm = LLM(model, n_ctx, n_threads)
        _LOADED[key] = llm
        return llm


def loaded() -> list[LLM]:
    """Models currently loaded in this process."""
    return list(_LOADED.values())


def unload_all() -> None:
    """Free every loaded model (used by ``%unload_ext``)."""
    with _LOAD_LOCK:
        _LOADED.clear()
