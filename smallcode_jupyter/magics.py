"""``%%smallcode`` and ``%smallcode``: the notebook front end of the loop.

Every tunable is a trait (``%config SmallcodeMagics.candidates = 3`` or ``ipython_config.py``);
per-cell options override them. Heavy libraries load on first use, never at ``%load_ext``.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import replace
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Float, Int, Unicode

from .loop.events import Request, Result, TaskError
from .models.catalog import DEFAULT_MODEL, PRESETS
from .models.store import ModelError, ResolvedModel
from .sandbox.errors import SandboxError

_FLAGS_WITH_VALUE = {"--model", "-m", "--max-tokens", "--max-iters", "--candidates", "--timeout"}
_last_result: Result | None = None


def last_result() -> Result | None:
    """The result of the last ``%%smallcode`` run in this kernel."""
    return _last_result


def split_options(line: str) -> tuple[str, str]:
    """Split ``--opts ... task words`` into (options, task) keeping the task verbatim.

    The task is free text ("don't use regex") that shell-style parsing would choke on, so only
    leading ``-`` tokens (and trailing value-less flags) are options.
    """
    words = line.split()
    opts: list[str] = []
    i = 0
    while i < len(words) and words[i].startswith("-"):
        opts.append(words[i])
        if words[i].split("=")[0] in _FLAGS_WITH_VALUE and "=" not in words[i] and i + 1 < len(words):
            opts.append(words[i + 1])
            i += 1
        i += 1
    rest = words[i:]
    while rest and rest[-1].startswith("--") and rest[-1] not in _FLAGS_WITH_VALUE and "=" not in rest[-1]:
        opts.append(rest.pop())
    task = " ".join(rest)
    return " ".join(opts), task


@magics_class
class SmallcodeMagics(Magics):
    """Write working code with a small local model, tested in a throwaway kernel."""

    model = Unicode(DEFAULT_MODEL, help="Preset name, path to a .gguf file, or hf:owner/repo/file.gguf.").tag(
        config=True
    )
    cache_dir = Unicode(
        "", help="Model cache folder (default: $SMALLCODE_CACHE or ~/.cache/smallcode/models)."
    ).tag(config=True)
    max_tokens = Int(0, help="Completion tokens per generation; 0 uses the model's preset.").tag(config=True)
    max_iters = Int(-1, help="Repair rounds after the first candidates; -1 uses the model's preset.").tag(
        config=True
    )
    candidates = Int(0, help="Candidates per task (the greedy one included); 0 uses the preset.").tag(
        config=True
    )
    timeout = Float(10.0, help="Seconds each sandbox execution may take before it is interrupted.").tag(
        config=True
    )
    insert = Bool(True, help="Put the final code into the notebook as the next cell.").tag(config=True)
    run_tests = Bool(True, help="Run candidates against the tests in a throwaway kernel.").tag(config=True)
    plan = Bool(True, help="Let the loop split non-atomic tasks into sub-tasks.").tag(config=True)
    n_threads = Int(0, help="llama.cpp threads; 0 uses the number of physical cores.").tag(config=True)
    n_ctx = Int(0, help="Context window in tokens; 0 uses the model's preset.").tag(config=True)
    edge = Bool(False, help="Edge Mode: lean settings for machines with about 4 GB of RAM.").tag(config=True)
    check_memory = Bool(True, help="Refuse to load a model that does not fit in free RAM.").tag(config=True)
    generate_only_fallback = Bool(
        False, help="If the sandbox cannot start, still generate (untested) code instead of stopping."
    ).tag(config=True)
    allow_unisolated = Bool(
        False,
        help="Run generated code even where no sandbox isolation layer is available (not recommended; "
        "see docs/security.md).",
    ).tag(config=True)
    verbose = Bool(False, help="Show prompts and full tracebacks.").tag(config=True)
    use_context = Bool(True, help="Retrieve context from the notebook, the project and corpora.").tag(
        config=True
    )
    project_dir = Unicode(
        "", help="Folder to retrieve helpers from; '' is the notebook's folder (or the cwd, if indexed)."
    ).tag(config=True)
    context_provider = Unicode(
        "", help="'module:factory' returning your own ContextProvider; '' uses the built-in retriever."
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, config=shell.config if shell else None, **kwargs)
        self._resolved: ResolvedModel | None = None
        self._sandbox: Any = None
        # One loop at a time per kernel: the side panel's worker thread and cells share the model
        # and the sandbox.
        self.run_lock = threading.Lock()
        self._retriever: Any = None
        self._retriever_key: Any = None

    def close(self) -> None:
        """Free what this instance holds: the resolved model and the sandbox kernels."""
        self._resolved = None
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def sandbox(self) -> Any:
        """The throwaway-kernel sandbox, started on first use and kept warm between cells."""
        from .sandbox import Sandbox

        if self._sandbox is None or self._sandbox.closed:
            # The project is bound read-only: generated code may read the user's files, never change them.
            project = self.project_dir or os.getcwd()
            self._sandbox = Sandbox(timeout=self.timeout, project=project,
                                    allow_unisolated=self.allow_unisolated or None).start()  # fmt: skip
        return self._sandbox

    def retriever(self) -> Any:
        """The context provider (notebook, project, corpora), rebuilt when those change."""
        from .context.corpus import list_corpora
        from .context.retriever import project_retriever

        key = (self.project_dir, tuple(list_corpora()), self.context_provider)
        if self._retriever is None or key != self._retriever_key:
            if self.context_provider:
                from importlib import import_module

                module, _, factory = self.context_provider.partition(":")
                self._retriever = getattr(import_module(module), factory or "provider")()
            else:
                self._retriever = project_retriever(self.project_dir or None, self.shell, key[1])
            self._retriever_key = key
        return self._retriever

    def _sandbox_or_fallback(self, request: Request) -> Any:
        """The sandbox; if it cannot start, generate-only — but only when the user allowed that."""
        try:
            return self.sandbox()
        except SandboxError as e:
            if not self.generate_only_fallback:
                raise SandboxError(
                    f"{e}. Nothing was generated. To get untested code anyway, "
                    "%config SmallcodeMagics.generate_only_fallback = True, or use --no-run."
                ) from e
            print(f"smallcode: {e}; generating WITHOUT running or testing the code.", file=sys.stderr)
            request.run = False
            return None

    # -- model ----------------------------------------------------------------------------------
    def resolved_model(self) -> ResolvedModel:
        """The current model file, resolved (and assembled) once per model name."""
        from pathlib import Path

        from .models.store import resolve

        if self._resolved is None or self._resolved.name != self._spec_name():
            bar = _ProgressBar(f"preparing {self.model}")
            try:
                self._resolved = resolve(
                    self.model, cache_dir=Path(self.cache_dir) if self.cache_dir else None,
                    progress=bar, edge=self.edge,
                )  # fmt: skip
            finally:
                bar.close()
        return self._resolved

    def _spec_name(self) -> str:
        return self.model if self.model in PRESETS else os.path.splitext(os.path.basename(self.model))[0]

    def llm(self) -> Any:
        from .models import llm

        resolved = self.resolved_model()
        settings = resolved.settings
        return llm.load(resolved, n_ctx=self.n_ctx or settings.n_ctx, n_threads=self.n_threads or None,
                        check_memory=self.check_memory)  # fmt: skip

    # -- magics ---------------------------------------------------------------------------------
    @magic_arguments()
    @argument("-m", "--model", help="Model for this cell (preset name, .gguf path or hf:...).")
    @argument("--max-tokens", type=int, help="Completion tokens per generation.")
    @argument("--max-iters", type=int, help="Repair rounds (0: no repair).")
    @argument("--candidates", type=int, help="Candidates per task, the greedy one included.")
    @argument("--timeout", type=float, help="Seconds per sandbox execution.")
    @argument("--no-insert", action="store_true", help="Do not put the code into the next cell.")
    @argument("--no-run", action="store_true", help="Generate only: do not run or test the code.")
    @argument("--no-plan", action="store_true", help="Never split the task into sub-tasks.")
    @argument("--verbose", action="store_true", help="Show prompts and full tracebacks.")
    @line_cell_magic
    def smallcode(self, line: str, cell: str | None = None) -> None:
        """%%smallcode [options] TASK — write code for TASK; the cell body is optional context
        (examples, tests, constraints). %smallcode status|model NAME|models|config|edge [on|off]|
        index [PATH]|context "QUERY"|corpus add PATH|list|remove PATH.
        """
        if cell is None:
            return self._line(line)
        opts, task = split_options(line)
        args = parse_argstring(self.smallcode, opts)
        if not task.strip():
            raise UsageError(
                "%%smallcode needs a task, e.g. `%%smallcode write a function add(a, b)`; "
                "the cell body holds optional examples, tests and constraints."
            )
        self.run_cell_task(task, cell, args)
        return None

    def run_cell_task(self, task: str, context: str, args: Any) -> Result | None:
        """Run the loop for one cell and show/insert the result."""
        global _last_result
        from .display import View
        from .loop.pipeline import Pipeline

        if not self.run_lock.acquire(blocking=False):
            print("smallcode: the side panel is running a task; wait for it or press Stop.", file=sys.stderr)
            return None
        saved_model = self.model
        if args.model:
            self.model = args.model
        view = View(verbose=args.verbose or self.verbose)
        try:
            llm = self.llm()
            settings = self.resolved_model().settings
            request = Request(
                task=task, context=context,
                max_iters=_first(args.max_iters, None if self.max_iters < 0 else self.max_iters),
                candidates=_first(args.candidates, self.candidates or None),
                max_tokens=_first(args.max_tokens, self.max_tokens or None),
                run=self.run_tests and not args.no_run, plan=self.plan and not args.no_plan,
                timeout=_first(args.timeout, self.timeout),
            )  # fmt: skip
            sandbox = self._sandbox_or_fallback(request) if request.run else None
            provider = self.retriever() if self.use_context else None
            result = Pipeline(llm, settings, sink=view, sandbox=sandbox, context=provider).run(request)
        except (ModelError, SandboxError, TaskError) as e:
            print(f"smallcode: {e}", file=sys.stderr)
            return None
        except KeyboardInterrupt:
            print("\nsmallcode: stopped by the user; nothing was inserted.", file=sys.stderr)
            return None
        finally:
            self.model = saved_model
            self.run_lock.release()
        _last_result = result
        view.finish(result)
        if self.insert and not args.no_insert and result.code.strip() and self.shell is not None:
            code = result.code.rstrip() + "\n"
            if result.passed is False:  # offered, but marked: it is only the best attempt
                code = f"# smallcode: best attempt, still failing: {result.failure[:200]}\n" + code
            self.shell.set_next_input(code, replace=False)
        return result

    # -- line subcommands ---------------------------------------------------------------------------
    def _line(self, line: str) -> None:
        cmd, _, rest = line.strip().partition(" ")
        handlers = {
            "status": self._status, "model": self._set_model, "models": self._models,
            "config": self._config, "edge": self._edge,
            "index": self._index, "context": self._context, "corpus": self._corpus,
        }  # fmt: skip
        handler = handlers.get(cmd or "status")
        if handler is None:
            raise UsageError(f"unknown %smallcode command {cmd!r}; one of: {', '.join(handlers)}")
        handler(rest.strip())

    def _status(self, _: str) -> None:
        from .models import llm
        from .status import memory_line, sandbox_layers

        loaded = llm.loaded()
        if self._resolved is None and not loaded:
            print(f"model: {self.model} (not loaded yet; loads on first use)")
        else:
            r = self.resolved_model()
            print(
                f"model: {r.name} ({r.info.params_b or 0:.2f}B, {r.info.architecture}) from {r.source}: {r.path}"
            )
            for m in loaded:
                print(f"loaded: n_ctx={m.n_ctx}, threads={m.n_threads}, chat format={m.chat_format}, "
                      f"load {m.load_seconds:.1f} s")  # fmt: skip
        print(memory_line())
        print(f"edge mode: {'on' if self.edge else 'off'}")
        for line in sandbox_layers():
            print(line)

    def _set_model(self, spec: str) -> None:
        if not spec:
            raise UsageError("usage: %smallcode model NAME|PATH|hf:owner/repo/file.gguf")
        old = self.model
        self.model = spec
        try:
            r = self.resolved_model()
        except ModelError as e:
            self.model = old
            print(f"smallcode: {e}", file=sys.stderr)
            return
        print(f"model: {r.name} from {r.source} ({r.path})")

    def _models(self, _: str) -> None:
        from .models.store import availability, default_cache_dir

        cache = default_cache_dir() if not self.cache_dir else __import__("pathlib").Path(self.cache_dir)
        for p in PRESETS.values():
            mark = "*" if p.name == self.model else " "
            print(f"{mark} {p.name:<22} {p.params_b:>5.2f}B  {availability(p, cache)}")

    def _config(self, _: str) -> None:
        for name in sorted(self.class_trait_names(config=True)):
            print(f"SmallcodeMagics.{name} = {getattr(self, name)!r}")
        if self._resolved is not None:
            print(f"effective loop settings ({self._resolved.name}): {self._resolved.settings}")

    def _edge(self, arg: str) -> None:
        self.edge = arg.lower() not in ("off", "false", "0")
        if self._resolved is not None:
            from .models.store import settings_for

            r = self._resolved
            self._resolved = replace(r, settings=settings_for(r.info, r.preset, self.edge))
        print(f"edge mode {'on' if self.edge else 'off'}")

    def _index(self, arg: str) -> None:
        """%smallcode index [PATH]: index PATH (default: the project) and retrieve from it."""
        from pathlib import Path

        from .context import commands

        path = Path(arg or self.project_dir or ".").expanduser()
        commands.index(path)
        if arg and str(path.resolve()) != self.project_dir:
            self.project_dir = str(path.resolve())
            if self._sandbox is not None:  # the sandbox binds the project: restart it on the new one
                self._sandbox.close()
                self._sandbox = None
        self._retriever = None

    def _context(self, arg: str) -> None:
        """%smallcode context "<query>": what retrieval would give the model, with file:line."""
        from .models import llm
        from .context import commands

        loaded = llm.loaded()
        budget = self._resolved.settings.context_budget if self._resolved is not None else 0
        count = loaded[0].count_tokens if loaded and budget else None
        commands.show_context(self.retriever(), arg, count_tokens=count, budget=budget)

    def _corpus(self, arg: str) -> None:
        """%smallcode corpus add PATH | list | remove PATH."""
        from .context import commands

        if commands.corpus(arg):
            self._retriever = None


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


class _ProgressBar:
    """A tqdm bar on stderr, created only if there is long work to show."""

    def __init__(self, desc: str) -> None:
        self.desc, self.bar = desc, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="B", unit_scale=True, file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
