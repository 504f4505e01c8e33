"""The application layer: the one place that resolves and loads a model, owns the warm sandbox,
the retriever and the run lock, and runs the loop.

Every front door (the magics, the side panel, the ``smallcode`` command, the benchmark) holds a
:class:`Session` and talks only to it; none of them builds a model, a sandbox or a pipeline
itself, and none of them imports another. One session per kernel (or per command): the panel's
worker thread and the cells share its model, its sandbox and its lock.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .context.cells import format_error, trim_traceback
from .context.types import ContextProvider, FailedCell
from .loop.events import EventSink, Request, Result
from .loop.settings import LoopSettings, settings_for, settings_for_model
from .models.catalog import DEFAULT_MODEL, PRESETS
from .models.servers import is_server_spec
from .models.store import ModelError, Progress, ResolvedModel
from .sandbox.errors import SandboxError

if TYPE_CHECKING:
    from .context.index import ProjectIndex, UpdateStats
    from .context.retriever import Hit
    from .models.llm import LLM, ChatModel
    from .models.remote import RemoteModel
    from .sandbox import Sandbox

Say = Callable[[str, str], None]  # (state, message): "preparing", "loading", "ready", "sandbox", ...
ProgressFactory = Callable[[str], "ClosableProgress"]


class ClosableProgress(Protocol):
    """What a progress factory returns: called with (done, total), closed when the work ends."""

    def __call__(self, done: int, total: int) -> None: ...

    def close(self) -> None: ...


def _default_progress(desc: str) -> Any:
    from .progress import ProgressBar

    return ProgressBar(desc)


class SessionBusy(RuntimeError):
    """Another task holds this session's run lock (a cell, or the side panel)."""


@dataclass
class SessionConfig:
    """What the user chose; the magics' traits, the CLI's flags and the panel's picker fill it."""

    model: str = DEFAULT_MODEL  # preset name, .gguf path or hf:owner/repo/file.gguf
    cache_dir: Path | None = None
    edge: bool = False
    n_ctx: int = 0  # 0: the loop settings' window
    n_threads: int = 0  # 0: physical cores
    check_memory: bool = True
    timeout: float = 10.0  # seconds per sandbox execution
    project_dir: str = ""  # '' : the notebook's folder, or the cwd if indexed
    allow_unisolated: bool = False
    bind_project: bool = True  # False: the sandbox sees no project folder (the benchmark's tasks)
    generate_only_fallback: bool = False
    context_provider: str = ""  # 'module:factory' for a custom ContextProvider
    corpora: tuple[str, ...] = field(default_factory=tuple)
    # Per-request defaults (the magics' traits): every front door's requests start from these.
    candidates: int = 0  # 0: the model's preset
    max_iters: int = -1  # -1: the model's preset
    max_tokens: int = 0  # 0: the model's preset
    run_tests: bool = True
    plan: bool = True
    use_context: bool = True
    live_state: bool = True  # describe the notebook's variables and copy them into the sandbox
    state_max_bytes: int = 256 * 2**20  # larger variables are described, not copied
    # A model server (docs/servers.md): `model` set to openai:URL/MODEL, ollama:NAME or serve, or
    # `base_url` (+ `api_model`) set. The key is read from the variable `api_key_env` names.
    base_url: str = ""
    api_model: str = ""
    api_key_env: str = "SMALLCODE_API_KEY"
    parallel: int = 0  # requests at once to a server; 0: its slot count
    request_timeout: float = 120.0  # seconds without a byte from the server
    params_b: float = 0.0  # a server model's size (billions) when the server does not say


@dataclass(frozen=True)
class ModelRow:
    """One line of a model list: a preset and where it stands on this machine."""

    name: str
    params_b: float
    state: str  # "loaded", or what :func:`~.models.store.availability` says
    current: bool
    spec: str = ""  # what selects it ('' : its name)


def model_name(spec: str) -> str:
    """The name a spec resolves to (a preset's name, or a file's stem), without resolving it."""
    if is_server_spec(spec):
        return spec
    if spec.lower() in PRESETS:
        return spec.lower()
    if spec.startswith("hf:"):
        return spec.rsplit("/", 1)[-1]
    return os.path.splitext(os.path.basename(spec))[0]


class Session:
    """One model, one warm sandbox, one retriever and one run lock, shared by the front doors."""

    def __init__(
        self,
        config: SessionConfig | None = None,
        shell: Any = None,
        progress: ProgressFactory | None = None,
    ) -> None:
        self.config = config or SessionConfig()
        self.shell = shell
        self.progress = progress or _default_progress
        self.run_lock = threading.Lock()  # one loop at a time per session
        self._resolved: dict[tuple[str, str], ResolvedModel] = {}
        self._servers: dict[tuple[Any, ...], RemoteModel] = {}
        self._sandbox: Sandbox | None = None
        self._sandbox_key: tuple[str, float, bool] | None = None
        self._extra: list[Sandbox] = []  # more sandboxes for tasks at once (sandboxes)
        self._retriever: ContextProvider | None = None
        self._retriever_key: tuple[Any, ...] | None = None
        # Called with the new spec when set_model switches the model (the magics keep their
        # `model` trait in step when the side panel's picker switches it).
        self.model_watchers: list[Callable[[str], None]] = []
        self._last_error: FailedCell | None = None
        events = getattr(shell, "events", None)
        if events is not None:
            events.register("post_run_cell", self._after_cell)

    def _after_cell(self, result: Any) -> None:
        """Remember the last cell that raised (for ``%smallcode fix``); smallcode's own cells and
        errors that stopped a cell before it ran (a syntax error) count too."""
        error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
        info = getattr(result, "info", None)
        source = getattr(info, "raw_cell", "") or ""
        if error is None or not source.strip() or source.lstrip().startswith(("%smallcode", "%%smallcode")):
            return
        self._last_error = FailedCell(source, format_error(error))

    def last_error(self) -> tuple[str, str] | None:
        """(source, traceback) of the last cell that raised in this kernel, if any."""
        e = self._last_error
        return (e.source, e.error) if e is not None else None

    # -- models ---------------------------------------------------------------------------------
    def is_server(self, spec: str | None = None) -> bool:
        """Whether ``spec`` (default: the configured model) is a model server, not a GGUF file."""
        if spec is None or spec == self.config.model:
            return bool(self.config.base_url) or is_server_spec(self.config.model)
        return is_server_spec(spec)

    def server(self, spec: str | None = None) -> RemoteModel:
        """The server model for ``spec`` (default: the configured one), connected and checked once
        per spec and settings (:class:`~.models.http.ServerError` if it does not answer)."""
        from .models.remote import connect

        c = self.config
        spec = spec or c.model
        base = c.base_url if spec == c.model else ""
        key = (spec, base, c.api_model, c.api_key_env, c.parallel, c.request_timeout, c.n_ctx, c.params_b)
        if key not in self._servers:
            self._servers[key] = connect(
                spec,
                base_url=base,
                api_model=c.api_model,
                key_env=c.api_key_env,
                parallel=c.parallel,
                timeout=c.request_timeout,
                n_ctx=c.n_ctx,
                params_b=c.params_b,
            )
        return self._servers[key]

    def connected(self) -> RemoteModel | None:
        """The configured server model if it was connected already (never connects)."""
        c = self.config
        return next((m for k, m in self._servers.items() if k[0] == c.model), None)

    def describe(self, spec: str | None = None) -> str:
        """One line on the model ``spec`` names (default: the configured one), resolving its file
        or reaching its server first: a bad spec fails here, before anything starts."""
        if self.is_server(spec):
            m = self.server(spec)
            size = f", {m.info.params_b:g}B" if m.info.params_b else ""
            tokens = ", tokens estimated" if m.tokens_estimated else ""
            return (
                f"{m.name} on {m.info.kind} at {m.endpoint.where} (context {m.n_ctx}{size}, "
                f"{m.parallel} at once, prefill {'yes' if m.prefill else 'no'}{tokens})"
            )
        r = self.resolve(spec)
        return f"{r.name} from {r.source} ({r.path})"

    def resolve(self, spec: str | None = None, progress: Progress | None = None) -> ResolvedModel:
        """The model file for ``spec`` (default: the configured model), resolved once per spec."""
        spec = spec or self.config.model
        if self.is_server(spec):
            raise ModelError(f"{spec} is a model server, not a model file")
        key = (spec, str(self.config.cache_dir or ""))
        if key not in self._resolved:
            from .models.store import resolve

            bar = self.progress(f"preparing {spec}") if progress is None else None
            try:
                self._resolved[key] = resolve(spec, cache_dir=self.config.cache_dir, progress=progress or bar)
            finally:
                if bar is not None:
                    bar.close()
        return self._resolved[key]

    def resolved(self) -> ResolvedModel | None:
        """The configured model if it was resolved already (never resolves)."""
        return self._resolved.get((self.config.model, str(self.config.cache_dir or "")))

    def settings(self, spec: str | None = None) -> LoopSettings:
        """The loop settings for ``spec`` (default: the configured model), Edge Mode applied: a
        server's model by the size and window the server reports (or ``params_b``/``n_ctx``)."""
        if self.is_server(spec):
            m = self.server(spec)
            return settings_for(m.info.params_b, m.n_ctx, self.config.edge)
        return settings_for_model(self.resolve(spec), self.config.edge)

    def load(self, spec: str | None = None, say: Say | None = None) -> ChatModel:
        """The model for ``spec`` (default: the configured one): loaded in this process (one stays
        loaded per process), or reached on its server."""
        say = say or (lambda _state, _message: None)
        if self.is_server(spec):
            say("preparing", f"connecting to {spec or self.config.base_url or self.config.model}")
            remote = self.server(spec)
            say("ready", f"{remote.name} ready on {remote.info.kind}")
            return remote
        return self.load_local(spec, say)

    def load_local(self, spec: str | None = None, say: Say | None = None) -> LLM:
        """The in-process llama.cpp model for the GGUF ``spec`` names."""
        from .models import llm

        say = say or (lambda _state, _message: None)
        say("preparing", f"preparing {spec or self.config.model}")
        resolved = self.resolve(spec)
        settings = settings_for_model(resolved, self.config.edge)
        n_ctx = self.config.n_ctx or settings.n_ctx
        if all(str(m.model.path) != str(resolved.path) or m.n_ctx != n_ctx for m in llm.loaded()):
            say("loading", f"loading {resolved.name} into llama.cpp")
        model = llm.load(resolved, n_ctx=n_ctx, n_threads=self.config.n_threads or None,
                         check_memory=self.config.check_memory)  # fmt: skip
        say("ready", f"{resolved.name} ready")
        return model

    def loaded(self) -> list[LLM]:
        from .models import llm

        return llm.loaded() if "llama_cpp" in sys.modules else []

    def set_model(self, spec: str) -> str:
        """Switch the configured model; returns a line on it. Raises :class:`ModelError` (and
        keeps the old one) if it cannot be resolved or its server does not answer."""
        line = self.describe(spec)
        self.config.model = spec
        for watch in self.model_watchers:
            watch(spec)
        return line

    def models(self) -> list[ModelRow]:
        """Every preset and its state here (loaded, cached, installable...), and the current
        model first when it is not a preset (a .gguf path, an hf: spec)."""
        from .models.store import availability, default_cache_dir

        cache = self.config.cache_dir or default_cache_dir()
        loaded = {m.name for m in self.loaded()}
        current = model_name(self.config.model)
        rows = [
            ModelRow(
                p.name,
                p.params_b,
                "loaded" if p.name in loaded else availability(p, cache),
                p.name == current,
            )
            for p in PRESETS.values()
        ]
        if self.is_server():
            return self.server_rows() + rows
        if self.config.model.lower() not in PRESETS:
            r = self.resolved()
            params = (r.info.params_b or 0.0) if r is not None else 0.0
            state = "loaded" if current in loaded else ("ready" if r is not None else "selected")
            rows.insert(0, ModelRow(self.config.model, params, state, True))
        return rows

    def server_rows(self) -> list[ModelRow]:
        """The configured server's models (the current one first), or one row saying why the
        server cannot list them."""
        try:
            m = self.server()
            names = m.models()
        except ModelError as e:
            return [ModelRow(self.config.model, self.config.params_b, f"server: {e}", True)]
        rows = []
        for name in [m.name, *(n for n in names if n != m.name)]:
            spec = m.info.spec
            select = f"ollama:{name}" if spec.kind == "ollama" else f"openai:{spec.url}/{name}"
            if spec.kind == "smallcode":
                select = self.config.model
            params = (m.info.params_b or 0.0) if name == m.name else 0.0
            rows.append(ModelRow(name, params, f"server ({m.info.kind}, answering)", name == m.name, select))
        return rows

    # -- sandbox --------------------------------------------------------------------------------
    def project(self) -> str:
        return self.config.project_dir or os.getcwd()

    def sandbox(self) -> Sandbox:
        """The throwaway-kernel sandbox, started on first use and kept warm between tasks.

        The project folder is bound read-only: generated code may read the user's files, never
        change them. A change of project, timeout or isolation consent restarts it.
        """
        key = (self.project(), self.config.timeout, self.config.allow_unisolated)
        if self._sandbox is not None and (self._sandbox.closed or key != self._sandbox_key):
            self._sandbox.close()
            self._sandbox = None
        if self._sandbox is None:
            self._sandbox = self._new_sandbox()
            self._sandbox_key = key
        return self._sandbox

    def sandboxes(self, n: int) -> list[Sandbox]:
        """``n`` sandboxes for ``n`` tasks at once (``smallcode bench --concurrency``): the warm
        one and ``n - 1`` more like it, all closed with the session."""
        first = self.sandbox()
        while len(self._extra) < n - 1:
            self._extra.append(self._new_sandbox())
        return [first, *self._extra[: n - 1]]

    def _new_sandbox(self) -> Sandbox:
        from .sandbox import Sandbox

        project = self.project() if self.config.bind_project else None
        return Sandbox(timeout=self.config.timeout, project=project,
                       allow_unisolated=self.config.allow_unisolated or None).start()  # fmt: skip

    def sandbox_or_fallback(
        self, request: Request, warn: Callable[[str], None] | None = None
    ) -> Sandbox | None:
        """The sandbox; if it cannot start, generate-only, but only when the user allowed that."""
        try:
            return self.sandbox()
        except SandboxError as e:
            if not self.config.generate_only_fallback:
                raise SandboxError(
                    f"{e}. Nothing was generated. To get untested code anyway, allow the generate-only "
                    "fallback (%config SmallcodeMagics.generate_only_fallback = True) or do not run "
                    "the code (--no-run)."
                ) from e
            (warn or _stderr)(f"smallcode: {e}; generating WITHOUT running or testing the code.")
            request.run = False
            return None

    # -- context --------------------------------------------------------------------------------
    def retriever(self) -> ContextProvider | None:
        """The context provider (notebook, project, corpora), rebuilt when those change."""
        from .context.corpus import list_corpora

        corpora = tuple(str(c) for c in list_corpora()) + self.config.corpora
        key = (self.config.project_dir, corpora, self.config.context_provider)
        if self._retriever is None or key != self._retriever_key:
            if self.config.context_provider:
                from importlib import import_module

                module, _, factory = self.config.context_provider.partition(":")
                self._retriever = getattr(import_module(module), factory or "provider")()
            else:
                from .context.retriever import project_retriever

                self._retriever = project_retriever(self.config.project_dir or None, self.shell, corpora)
            self._retriever_key = key
        return self._retriever

    def forget_retriever(self) -> None:
        """Rebuild the retriever on next use (after indexing, or a corpus change)."""
        self._retriever = None

    def index(
        self, path: Path, rebuild: bool = False, embedder: str = "minilm"
    ) -> tuple[ProjectIndex, UpdateStats]:
        """Index (or update) the folder ``path`` with a progress bar; returns (index, stats).

        Raises FileNotFoundError for a missing folder. The retriever is rebuilt on next use.
        """
        from .context.embedder import get_embedder
        from .context.index import ProjectIndex
        from .progress import ProgressBar

        if not path.is_dir():
            raise FileNotFoundError(f"no such folder: {path}")
        ix = ProjectIndex(path, get_embedder(embedder))
        with ProgressBar(f"indexing {ix.root.name}", unit="chunk") as bar:
            stats = ix.update(progress=bar, rebuild=rebuild)
        self._retriever = None
        return ix, stats

    def hits(self, query: str, k: int = 8) -> list[Hit]:
        """What retrieval would give the model for ``query``, best first, with why each was chosen."""
        from .context.retriever import Retriever

        retriever = self.retriever()  # a custom provider gives snippets, not explained hits
        return retriever.hits(query, k) if isinstance(retriever, Retriever) else []

    def search(self, query: str, path: Path, k: int = 5, embedder: str = "minilm") -> list[Hit]:
        """What retrieval finds for ``query`` in the folder ``path`` alone, indexing it first if
        needed, whatever its size (``smallcode search``); the session's own retriever is untouched."""
        from .context.embedder import get_embedder
        from .context.retriever import Retriever

        retriever = Retriever(path, embedder=get_embedder(embedder), auto_index_limit=10**9)
        return retriever.hits(query, k)

    def corpora(self) -> list[tuple[Path, bool]]:
        """The registered corpora and whether each is indexed."""
        from .context.corpus import corpus_store, list_corpora

        return [(p, (corpus_store(p) / "manifest.json").exists()) for p in list_corpora()]

    def add_corpus(self, path: str) -> tuple[Path, UpdateStats]:
        """Register and index a corpus folder; returns (its path, index stats)."""
        from .context.corpus import add_corpus, corpus_store
        from .context.embedder import get_embedder
        from .context.index import ProjectIndex
        from .progress import ProgressBar

        p = add_corpus(path)
        ix = ProjectIndex(p, get_embedder(), store=corpus_store(p))
        with ProgressBar(f"indexing {p.name}", unit="chunk") as bar:
            stats = ix.update(progress=bar)
        self._retriever = None
        return p, stats

    def remove_corpus(self, path: str) -> bool:
        from .context.corpus import remove_corpus

        removed = remove_corpus(path)
        if removed:
            self._retriever = None
        return removed

    def set_project(self, path: str) -> None:
        """Retrieve from ``path`` and bind it in the sandbox (restarted on next use)."""
        self.config.project_dir = path
        self._retriever = None

    # -- requests -------------------------------------------------------------------------------
    def request(self, task: str, context: str = "", **overrides: Any) -> Request:
        """A request for ``task`` with the session's defaults (the magics' traits); ``overrides``
        (candidates, max_iters, max_tokens, run, plan, timeout, use_context) win when not None."""
        c = self.config
        values: dict[str, Any] = {
            "candidates": c.candidates or None,
            "max_iters": None if c.max_iters < 0 else c.max_iters,
            "max_tokens": c.max_tokens or None,
            "run": c.run_tests,
            "plan": c.plan,
            "timeout": c.timeout,
            "use_context": c.use_context,
        }
        unknown = set(overrides) - set(values)
        if unknown:
            raise TypeError(f"unknown request option(s): {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return Request(task=task, context=context, **values)

    def fix_request(self, source: str, error: str, **overrides: Any) -> Request:
        """A request to repair the cell ``source`` that raised ``error`` (its traceback; ANSI
        colour codes are removed). The fixed cell is proven on copies of the user's variables."""
        error = trim_traceback(error)
        last = error.strip().splitlines()[-1] if error.strip() else "an error"
        request = self.request(f"fix the cell that raised {last[:200]}", **{"plan": False, **overrides})
        request.fix = FailedCell(source, error)
        return request

    def live_state(self, request: Request) -> None:
        """Attach the notebook's live variables the request refers to (nothing without a shell,
        or with ``live_state`` off)."""
        if self.shell is None or not self.config.live_state or request.state is not None:
            return
        from .context.snapshot import snapshot

        text = request.fix.source if request.fix is not None else request.task
        request.state = snapshot(
            self.shell,
            text,
            request.context,
            max_bytes=self.config.state_max_bytes,
            copy=request.run,
        )

    # -- the loop -------------------------------------------------------------------------------
    def run(
        self,
        request: Request,
        sink: EventSink | None = None,
        *,
        model: str | None = None,
        context: ContextProvider | None = None,
        use_retriever: bool = True,
        say: Say | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> Result:
        """Run the loop on ``request`` with ``model`` (default: the configured one).

        ``context`` replaces the session's retriever (the panel passes the editor's cells);
        ``use_retriever=False`` runs without retrieval. Raises :class:`SessionBusy` when another
        task is running, :class:`ModelError`, :class:`SandboxError` or
        :class:`~.loop.events.TaskError` with a message for the user.
        """
        from .loop.pipeline import Pipeline

        if not self.run_lock.acquire(blocking=False):
            raise SessionBusy("another smallcode task is running in this kernel; wait for it or stop it")
        try:
            llm = self.load(model, say)
            settings = self.settings(model)
            if hasattr(llm, "on_wait"):  # in-process: another process may be generating (models/gate.py)
                waiting = say or _status
                llm.on_wait = lambda: waiting(
                    "waiting", "waiting for the model: another smallcode process is generating"
                )
            sandbox = None
            if request.run and not request.cancel.is_set():
                if say is not None:
                    say("sandbox", "starting the sandbox kernel")
                sandbox = self.sandbox_or_fallback(request, warn)
            provider = context if context is not None else (self.retriever() if use_retriever else None)
            self.live_state(request)
            if say is not None:
                say("running", "running")
            return Pipeline(llm, settings, sink=sink, sandbox=sandbox, context=provider).run(request)
        finally:
            self.run_lock.release()

    def with_edge(self, on: bool) -> LoopSettings | None:
        """Turn Edge Mode on or off; returns the configured model's new settings if it is resolved."""
        self.config.edge = on
        r = self.resolved()
        return settings_for_model(r, on) if r is not None else None

    def close(self) -> None:
        """Free what the session holds: resolved models, the sandbox kernels, the cell hook."""
        events = getattr(self.shell, "events", None)
        if events is not None:
            with contextlib.suppress(ValueError):
                events.unregister("post_run_cell", self._after_cell)
        self._resolved.clear()
        self._servers.clear()
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
        for box in self._extra:
            box.close()
        self._extra.clear()


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _status(_state: str, message: str) -> None:
    print(f"smallcode: {message}", file=sys.stderr, flush=True)


__all__ = ["ModelError", "ModelRow", "SandboxError", "Session", "SessionBusy", "SessionConfig", "model_name"]
