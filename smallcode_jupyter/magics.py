"""``%%smallcode`` and ``%smallcode``: the notebook front end of the loop.

Every tunable is a trait (``%config SmallcodeMagics.candidates = 3`` or ``ipython_config.py``);
per-cell options override them. The magics own no model, sandbox or retriever: they fill the
kernel's :class:`~.session.Session` from their traits and do everything through it (the side
panel shares that session). Heavy libraries load on first use, never at ``%load_ext``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Bunch, Float, Int, Unicode, observe

from . import magics_commands as commands
from .loop.events import Request, Result, TaskError
from .models.catalog import DEFAULT_MODEL
from .models.store import ModelError
from .sandbox.errors import SandboxError
from .session import Session, SessionBusy

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


# The traits that are the session's options (SessionConfig); the others shape each request.
_SESSION_TRAITS = (
    "model",
    "base_url",
    "api_model",
    "api_key_env",
    "parallel",
    "request_timeout",
    "params_b",
    "cache_dir",
    "edge",
    "n_ctx",
    "n_threads",
    "check_memory",
    "timeout",
    "project_dir",
    "allow_unisolated",
    "generate_only_fallback",
    "context_provider",
    # per-request defaults, which the side panel's requests use too
    "candidates",
    "max_iters",
    "max_tokens",
    "run_tests",
    "plan",
    "use_context",
    "live_state",
    "state_max_mb",
)


@magics_class
class SmallcodeMagics(Magics):
    """Write working code with a small local model, tested in a throwaway kernel."""

    model = Unicode(
        DEFAULT_MODEL,
        help="Preset name, path to a .gguf file, hf:owner/repo/file.gguf, or a model server: "
        "openai:http://HOST:PORT/v1/MODEL, ollama:NAME, serve (smallcode serve). See docs/servers.md.",
    ).tag(config=True)
    base_url = Unicode(
        "", help="An OpenAI-compatible server's base URL (http://HOST:PORT/v1); set, it is the model."
    ).tag(config=True)
    api_model = Unicode("", help="The model to ask for on base_url ('' : the server's first).").tag(
        config=True
    )
    api_key_env = Unicode(
        "SMALLCODE_API_KEY",
        help="Environment variable holding the server's API key (the key itself is never stored).",
    ).tag(config=True)
    parallel = Int(0, help="Requests at once to a server (a prompt's samples); 0: its slot count.").tag(
        config=True
    )
    request_timeout = Float(120.0, help="Seconds a server may stay silent before the request fails.").tag(
        config=True
    )
    params_b = Float(
        0.0, help="A server model's size in billions, when the server does not report it (loop settings)."
    ).tag(config=True)
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
    live_state = Bool(
        True,
        help="Show the model the notebook variables a task refers to, and test candidates on copies of "
        "them in the sandbox (never on the originals).",
    ).tag(config=True)
    state_max_mb = Float(
        256.0, help="Variables larger than this (MB) are described to the model, not copied."
    ).tag(config=True)

    def __init__(self, shell: Any = None, session: Session | None = None, **kwargs: Any) -> None:
        self.session = session if session is not None else Session(shell=shell)
        super().__init__(shell=shell, config=shell.config if shell else None, **kwargs)
        for name in _SESSION_TRAITS:
            self._to_session(name, getattr(self, name))
        self.session.model_watchers.append(self._model_switched)

    @observe(*_SESSION_TRAITS)
    def _trait_changed(self, change: Bunch) -> None:
        self._to_session(change.name, change.new)

    def _to_session(self, name: str, value: Any) -> None:
        """Copy one trait into the session's config (a new project also resets the retriever)."""
        config = self.session.config
        if name == "cache_dir":
            config.cache_dir = Path(value) if value else None
        elif name == "state_max_mb":
            config.state_max_bytes = int(value * 2**20)
        elif name == "project_dir":
            if value != config.project_dir:
                self.session.set_project(value)
        else:
            setattr(config, name, value)

    def _model_switched(self, spec: str) -> None:
        """The session switched its model (``%smallcode model``, or the side panel's picker)."""
        self.model = spec

    def close(self) -> None:
        """Free what the session holds: the resolved models and the sandbox kernels."""
        self.session.close()

    # -- magics ---------------------------------------------------------------------------------
    @magic_arguments()
    @argument(
        "-m",
        "--model",
        help="Model for this cell (preset, .gguf path, hf:..., openai:URL/MODEL, ollama:NAME, serve).",
    )
    @argument("--max-tokens", type=int, help="Completion tokens per generation.")
    @argument("--max-iters", type=int, help="Repair rounds (0: no repair).")
    @argument("--candidates", type=int, help="Candidates per task, the greedy one included.")
    @argument("--timeout", type=float, help="Seconds per sandbox execution.")
    @argument("--no-insert", action="store_true", help="Do not put the code into the next cell.")
    @argument("--no-run", action="store_true", help="Generate only: do not run or test the code.")
    @argument("--no-plan", action="store_true", help="Never split the task into sub-tasks.")
    @argument("--fix", action="store_true", help="Repair the last cell that raised (TASK: an optional hint).")
    @argument("--verbose", action="store_true", help="Show prompts and full tracebacks.")
    @line_cell_magic
    def smallcode(self, line: str, cell: str | None = None) -> None:
        """%%smallcode [options] TASK — write code for TASK; the cell body is optional context
        (examples, tests, constraints). The notebook's variables the task names (``df``, ``sales``)
        are described to the model and copied into the sandbox, where candidates are proven on
        the copies; ``{name}`` in the line is replaced by the value of ``name`` (IPython's own
        expansion; ``{{`` for a literal brace). %smallcode fix repairs the last cell that raised.
        %smallcode status|model NAME|models|config|edge [on|off]|index [PATH]|context "QUERY"|
        corpus add PATH|list|remove PATH|fix.
        """
        if cell is None:
            return self._line(line)
        opts, task = split_options(line)
        args = parse_argstring(self.smallcode, opts)
        if args.fix:
            self.fix_last(args, hint=task, context=cell)
            return None
        if not task.strip():
            raise UsageError(
                "%%smallcode needs a task, e.g. `%%smallcode write a function add(a, b)`; "
                "the cell body holds optional examples, tests and constraints."
            )
        self.run_cell_task(task, cell, args)
        return None

    def request(self, task: str, context: str, args: argparse.Namespace) -> Request:
        """The loop's request for one cell: per-cell options first, then the traits (the
        session's defaults, which the side panel uses too)."""
        return self.session.request(task, context, **self._overrides(args))

    def _overrides(self, args: argparse.Namespace) -> dict[str, Any]:
        return {
            "max_iters": args.max_iters,
            "candidates": args.candidates,
            "max_tokens": args.max_tokens,
            "run": False if args.no_run else None,
            "plan": False if args.no_plan else None,
            "timeout": args.timeout,
        }

    def fix_last(self, args: argparse.Namespace, hint: str = "", context: str = "") -> Result | None:
        """Repair the last cell that raised; the fixed cell is offered as the next cell."""
        last = self.session.last_error()
        if last is None:
            print(
                "smallcode: no cell has raised an error in this kernel yet; nothing to fix.", file=sys.stderr
            )
            return None
        request = self.session.fix_request(*last, **self._overrides(args))
        request.context = "\n".join(t for t in (hint.strip(), context.strip()) if t)
        return self.run_request(request, args)

    def run_cell_task(self, task: str, context: str, args: argparse.Namespace) -> Result | None:
        """Run the loop for one cell and show/insert the result.

        ``--model`` applies to this cell only: the session's model stays what it was.
        """
        return self.run_request(self.request(task, context, args), args)

    def run_request(self, request: Request, args: argparse.Namespace) -> Result | None:
        global _last_result
        from .display import View

        view = View(verbose=args.verbose or self.verbose)
        try:
            result = self.session.run(request, view, model=args.model or None, use_retriever=self.use_context)
        except SessionBusy:
            print("smallcode: the side panel is running a task; wait for it or press Stop.", file=sys.stderr)
            return None
        except (ModelError, SandboxError, TaskError) as e:
            print(f"smallcode: {e}", file=sys.stderr)
            return None
        except KeyboardInterrupt:
            print("\nsmallcode: stopped by the user; nothing was inserted.", file=sys.stderr)
            return None
        _last_result = result
        view.finish(result)
        if self.insert and not args.no_insert and result.code.strip() and self.shell is not None:
            self.shell.set_next_input(cell_text(result), replace=False)
        return result

    # -- line subcommands -------------------------------------------------------------------------
    def _line(self, line: str) -> None:
        cmd, _, rest = line.strip().partition(" ")
        handlers = {
            "status": lambda _: commands.status(self.session),
            "model": self._set_model,
            "models": lambda _: commands.models(self.session),
            "config": self._config,
            "edge": self._edge,
            "index": self._index,
            "context": lambda query: commands.context(self.session, query),
            "corpus": lambda arg: commands.corpus(self.session, arg),
            "fix": lambda hint: self.fix_last(parse_argstring(self.smallcode, ""), hint=hint),
        }
        handler = handlers.get(cmd or "status")
        if handler is None:
            raise UsageError(f"unknown %smallcode command {cmd!r}; one of: {', '.join(handlers)}")
        handler(rest.strip())

    def _set_model(self, spec: str) -> None:
        """%smallcode model NAME: switch the kernel's model (cells and the side panel)."""
        if not spec:
            raise UsageError(
                "usage: %smallcode model NAME|PATH|hf:owner/repo/file.gguf|openai:URL/MODEL|ollama:NAME|serve"
            )
        try:
            line = self.session.set_model(spec)
        except ModelError as e:
            print(f"smallcode: {e}", file=sys.stderr)
            return
        print(f"model: {line}")

    def _config(self, _: str) -> None:
        for name in sorted(self.class_trait_names(config=True)):
            print(f"SmallcodeMagics.{name} = {getattr(self, name)!r}")
        r = self.session.resolved() or self.session.connected()
        if r is not None:
            print(f"effective loop settings ({r.name}): {self.session.settings()}")

    def _edge(self, arg: str) -> None:
        self.edge = arg.lower() not in ("off", "false", "0")
        self.session.with_edge(self.edge)
        print(f"edge mode {'on' if self.edge else 'off'}")

    def _index(self, arg: str) -> None:
        """%smallcode index [PATH]: index PATH (default: the project) and retrieve from it."""
        path = Path(arg or self.project_dir or ".").expanduser()
        if commands.index(self.session, path) and arg:
            self.project_dir = str(path.resolve())  # the sandbox binds it: restarted on next use


def cell_text(result: Result) -> str:
    """What goes into the next cell: the code, marked when it still fails; code that would
    overwrite the user's variables with made-up data is commented out, so running the cell
    cannot destroy them."""
    code = result.code.rstrip() + "\n"
    if result.overwrites:
        names = ", ".join(result.overwrites)
        body = "".join(f"# {line}" if line.strip() else line for line in code.splitlines(keepends=True))
        return f"# smallcode: commented out: this code would overwrite your {names} with made-up data\n{body}"
    if result.passed is False:  # offered, but marked: it is only the best attempt
        return f"# smallcode: best attempt, still failing: {result.failure[:200]}\n" + code
    return code
