"""``smallcode bench notebook``: the team's notebook tasks, run as a user runs them.

Each task is a small notebook: setup cells that build data (a DataFrame, a list of dicts, an
array, a helper function, a class), then ``%%smallcode TASK`` in plain words naming the user's
variables. The benchmark runs them in one real IPython shell with the extension loaded, so the
loop gets exactly what a notebook gives it (the cell history, and the live variables once the
loop reads them). The cell smallcode inserts is then run in that shell, like a user pressing
Shift-Enter, and the task's hidden checks inspect the resulting state.

Honest protocol: a task's ``checks`` and ``solution`` never reach the shell before the inserted
code has run; the magic cell holds only the task and the optional body a user would write.

Besides pass@1 the run records **overwrites**: setup variables (other than those the task asks
to change) that the inserted cell rebinds to an object with a different value, or deletes. That
is the failure that costs a user their data, so it is counted apart from plain failures.

The inserted code runs in this process, unsandboxed, exactly as it would in the user's notebook;
the run works in a scratch folder and gives each cell and check a time limit.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import inspect
import io
import json
import os
import pickle
import shutil
import signal
import statistics
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODES = ("vanilla", "loop", "reference")
# One greedy generation with the same context, nothing run, nothing planned, nothing repaired.
VANILLA_FLAGS = "--no-run --no-plan --candidates 1 --max-iters 0"
TASKS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "notebook" / "tasks"
# Names every IPython namespace has: never the user's data.
_SHELL_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


class CellTimeout(BaseException):
    """A cell or a check ran past its time limit (raised inside it by a timer signal).

    A BaseException, so that generated code's ``except Exception`` cannot swallow it."""


@dataclass(frozen=True)
class NotebookTask:
    """One notebook task. ``checks`` and ``solution`` are hidden from the loop."""

    task_id: str
    setup: tuple[str, ...]
    task: str
    body: str = ""
    checks: tuple[str, ...] = field(default=(), repr=False)
    changes: tuple[str, ...] = ()
    multipart: bool = False
    solution: str = field(default="", repr=False)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> NotebookTask:
        """A task from its JSON form, where any piece of code may be a string or a list of lines
        (lines keep long cells readable and editable in JSON)."""
        return cls(
            task_id=d["id"],
            setup=tuple(_code(c) for c in d["setup"]),
            task=d["task"],
            body=_code(d.get("body", "")),
            checks=tuple(_code(c) for c in d["checks"]),
            changes=tuple(d.get("changes", ())),
            multipart=bool(d.get("multipart", False)),
            solution=_code(d.get("solution", "")),
        )


def _code(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else "\n".join(value)


def read_tasks(path: str | Path = TASKS_DIR) -> list[NotebookTask]:
    """The tasks in ``path``: a folder of one-task JSON files (in name order), or one JSON file
    holding a task or a list of tasks."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    tasks: list[NotebookTask] = []
    for f in files:
        data = json.loads(f.read_text(encoding="utf-8"))
        tasks += [NotebookTask.from_json(d) for d in (data if isinstance(data, list) else [data])]
    return tasks


# -- the state of the user's namespace --------------------------------------------------------------
def user_names(ns: Mapping[str, Any], hidden: Mapping[str, Any] | None = None) -> list[str]:
    """The names the user defined: not IPython's own, not ``_``-prefixed (outputs, inputs)."""
    hidden = hidden or {}
    return [n for n in ns if not n.startswith("_") and n not in _SHELL_NAMES and n not in hidden]


def digest(value: Any) -> str | None:
    """A fingerprint of ``value``'s content, equal for equal content; None if none can be taken.

    Functions and classes by their source (a cell that re-defines a helper unchanged does not
    overwrite it); pandas objects by their values, columns and dtypes (their pickles depend on
    the internal block layout); modules by name; the rest by pickle.
    """
    try:
        if isinstance(value, types.ModuleType):
            return "module:" + value.__name__
        if isinstance(value, (types.FunctionType, type)):
            return _sha(_source(value).encode())
        module = type(value).__module__ or ""
        if module.startswith("pandas") and hasattr(value, "to_numpy"):
            import pandas as pd

            hashed = pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes()
            meta = repr((getattr(value, "columns", None), getattr(value, "dtypes", None)))
            return _sha(hashed + meta.encode())
        return _sha(pickle.dumps(value, protocol=5))
    except Exception:
        return None


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        if isinstance(obj, types.FunctionType):
            code = obj.__code__
            return repr((code.co_code, code.co_consts, code.co_names, code.co_varnames))
        members = sorted((k, _source(v)) for k, v in vars(obj).items() if isinstance(v, types.FunctionType))
        return repr((obj.__qualname__, members))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Snapshot:
    """The setup's variables: each object (kept alive, so identities stay meaningful) and the
    digest of its content."""

    values: dict[str, Any]
    digests: dict[str, str | None]

    @classmethod
    def take(cls, ns: Mapping[str, Any], names: Iterable[str]) -> Snapshot:
        values = {n: ns[n] for n in names}
        return cls(values, {n: digest(v) for n, v in values.items()})

    def rebound(self, ns: Mapping[str, Any]) -> list[str]:
        """Names now bound to another object (or gone), whatever its value."""
        return [n for n, v in self.values.items() if n not in ns or ns[n] is not v]

    def overwrites(self, ns: Mapping[str, Any], allowed: Iterable[str] = ()) -> list[str]:
        """Setup variables not in ``allowed`` that were deleted, or rebound to an object whose
        content differs from the setup's (rebinding to an equal value is harmless). An object
        whose content cannot be fingerprinted counts as overwritten when rebound at all."""
        allowed = set(allowed)
        out = []
        for name in self.rebound(ns):
            if name in allowed:
                continue
            if name not in ns:
                out.append(name)
                continue
            before, after = self.digests[name], digest(ns[name])
            if before is None or after is None or before != after:
                out.append(name)
        return out


# -- running cells ----------------------------------------------------------------------------------
@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CellTimeout` inside the running code after ``seconds`` (main thread only;
    elsewhere, and for None or 0, no limit)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: Any) -> None:
        raise CellTimeout(f"ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)  # and again each second, should it be caught
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _no_input(*_args: Any, **_kwargs: Any) -> str:
    raise RuntimeError("input() is not available in the notebook benchmark")


@contextlib.contextmanager
def unattended(seconds: float | None) -> Iterator[None]:
    """Generated code runs with a time limit and no keyboard: ``input()`` raises."""
    saved = builtins.input
    builtins.input = _no_input
    try:
        with time_limit(seconds):
            yield
    finally:
        builtins.input = saved


def _error_text(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= 300 else text[:297] + "..."


class NotebookShell:
    """One IPython shell for a whole run: the extension (and so the model and the warm sandbox)
    stays loaded, while each task starts from an empty namespace and an empty history.

    ``magics`` are ``SmallcodeMagics`` traits set with ``%config``; ``last_result`` returns the
    last ``%%smallcode`` result of the process (the bench library does not import the magics:
    the command that runs it passes ``smallcode_jupyter.last_result``). ``shell``: an existing
    InteractiveShell with the extension loaded (tests), else the process's instance is used.
    """

    def __init__(
        self,
        magics: Mapping[str, Any] | None = None,
        last_result: Callable[[], Any] | None = None,
        shell: Any = None,
        cell_timeout: float = 60.0,
        quiet: bool = True,
    ) -> None:
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        self.last_result = last_result or (lambda: None)
        self.cell_timeout = cell_timeout
        self.quiet = quiet
        self.output = ""  # what the last cell printed (when quiet)
        self._home = os.getcwd()
        # Generated code runs here; an empty folder also leaves the retriever no project to index.
        self.workdir = Path(tempfile.mkdtemp(prefix="smallcode-notebook-bench-"))
        os.chdir(self.workdir)
        self._owns_shell = shell is None and not InteractiveShell.initialized()
        if shell is None:
            cfg = Config()
            cfg.HistoryAccessor.hist_file = ":memory:"  # the user's IPython history stays untouched
            shell = InteractiveShell.instance(config=cfg)
        self.shell = shell
        self._loaded_ext = "SmallcodeMagics" not in shell.magics_manager.registry
        if self._loaded_ext:
            shell.run_line_magic("load_ext", "smallcode_jupyter")
        settings = {"insert": True, "verbose": False, **(magics or {})}
        for name, value in settings.items():
            shell.run_line_magic("config", f"SmallcodeMagics.{name} = {value!r}")
        self.inserted: list[str] = []
        shell.set_next_input = self._capture  # smallcode offers its code here

    def _capture(self, text: str, replace: bool = False) -> None:
        self.inserted.append(text)

    def close(self) -> None:
        """Unload what this object loaded (the model, the sandbox kernels) and go home."""
        from IPython.core.interactiveshell import InteractiveShell

        with contextlib.suppress(AttributeError):
            del self.shell.set_next_input
        if self._loaded_ext:
            with contextlib.suppress(Exception):
                self.shell.run_line_magic("unload_ext", "smallcode_jupyter")
        if self._owns_shell:
            InteractiveShell.clear_instance()
        os.chdir(self._home)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> NotebookShell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def session(self) -> Any:
        """The kernel's smallcode session (the one the magics run through)."""
        return self.shell.magics_manager.registry["SmallcodeMagics"].session

    def warm(self, sandbox: bool) -> Any:
        """Load the model (and start the sandbox) before the first task, so that every task's
        seconds are its own; raises the session's ModelError/SandboxError for the user."""
        model = self.session.load()
        if sandbox:
            self.session.sandbox()
        return model

    # -- cells ------------------------------------------------------------------------------------
    def fresh(self) -> None:
        """An empty namespace and an empty input history: nothing of the previous task is left
        for the loop to read, nor for the checks to find."""
        # A new history session: reset(new_session=False) would keep the previous task's inputs,
        # which the loop reads as context.
        self.shell.reset(new_session=True)
        os.chdir(self.workdir)

    def cell(self, source: str, timeout: float | None = None) -> str | None:
        """Run ``source`` as a notebook cell (stored in the history the loop reads); returns the
        error it raised as ``Type: message``, or None."""
        buf = io.StringIO()
        with contextlib.ExitStack() as stack:
            if self.quiet:
                stack.enter_context(contextlib.redirect_stdout(buf))
                stack.enter_context(contextlib.redirect_stderr(buf))
            if timeout:
                stack.enter_context(unattended(timeout))
            result = self.shell.run_cell(source, store_history=True)
        self.output = buf.getvalue()
        return _error_text(result.error_before_exec or result.error_in_exec)

    def check(self, source: str) -> str | None:
        """Run one hidden check in the user's namespace; returns why it failed, or None."""
        try:
            with unattended(self.cell_timeout):
                exec(compile(source, "<check>", "exec"), self.shell.user_ns)
        except KeyboardInterrupt:
            raise
        except AssertionError as e:
            return _error_text(e) if str(e) else "AssertionError: " + source.strip().splitlines()[-1][:200]
        except BaseException as e:
            return _error_text(e)
        return None

    # -- tasks --------------------------------------------------------------------------------------
    def prepare(self, task: NotebookTask) -> Snapshot:
        """A fresh namespace with the task's setup cells run; the setup's variables."""
        self.fresh()
        for i, src in enumerate(task.setup):
            error = self.cell(src)
            if error:
                raise RuntimeError(f"{task.task_id}: setup cell {i + 1} failed: {error}\n{self.output}")
        sh = self.shell
        return Snapshot.take(sh.user_ns, user_names(sh.user_ns, sh.user_ns_hidden))

    def evaluate(self, task: NotebookTask, snapshot: Snapshot, code: str) -> dict[str, Any]:
        """Run ``code`` as the next cell, then every check; what happened, JSON-ready."""
        error = self.cell(code, timeout=self.cell_timeout) if code.strip() else "no code inserted"
        overwrites = snapshot.overwrites(self.shell.user_ns, task.changes)
        failures = [f for f in (self.check(c) for c in task.checks) if f is not None]
        return {
            "passed": error is None and not failures,
            "error": error,
            "checks_passed": len(task.checks) - len(failures),
            "checks_total": len(task.checks),
            "failed_check": failures[0] if failures else None,
            "overwrites": overwrites,
        }

    def magic_cell(self, task: NotebookTask, mode: str, plan: bool = True) -> str:
        """The ``%%smallcode`` cell the user would write for ``task`` in ``mode``."""
        flags = VANILLA_FLAGS if mode == "vanilla" else ("" if plan else "--no-plan")
        line = " ".join(p for p in ("%%smallcode", flags, task.task) if p)
        return f"{line}\n{task.body}" if task.body else line

    def run_task(self, task: NotebookTask, mode: str, plan: bool = True) -> dict[str, Any]:
        """Run one task in ``mode`` and return its JSON-ready record.

        vanilla and loop: the ``%%smallcode`` cell runs, and what it inserted runs next;
        reference: the team's solution is inserted instead (no model: checks the task set).
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
        snapshot = self.prepare(task)
        result, magic_error, output, seconds = None, None, "", 0.0
        if mode == "reference":
            code = task.solution
        else:
            self.inserted.clear()
            before = self.last_result()
            start = time.perf_counter()
            magic_error = self.cell(self.magic_cell(task, mode, plan))
            seconds = time.perf_counter() - start
            output = self.output
            result = self.last_result()
            result = None if result is before else result
            code = self.inserted[-1] if self.inserted else ""
        touched = snapshot.rebound(self.shell.user_ns)  # the loop itself must never write the namespace
        record: dict[str, Any] = {
            "task_id": task.task_id,
            "mode": mode,
            "plan": plan and mode == "loop",
            "multipart": task.multipart,
            **self.evaluate(task, snapshot, code),
            "seconds": round(seconds, 3),
            "magic_error": magic_error,
            "magic_touched": touched,
            **_result_fields(result),
            "code": code,
        }
        if not code.strip() and mode != "reference":
            record["magic_output"] = output[-1500:]
        return record


def _result_fields(result: Any) -> dict[str, Any]:
    """What the loop's Result says about its own run (zeros when there was none)."""
    usage = getattr(result, "usage", None)
    subtasks = list(getattr(result, "subtasks", None) or [])
    return {
        "loop_passed": getattr(result, "passed", None),
        "visible_passed": getattr(result, "tests_passed", 0),
        "visible_total": getattr(result, "tests_total", 0),
        "candidates": getattr(result, "candidates", 0),
        "repair_iterations": getattr(result, "iterations", 0),
        "llm_calls": getattr(usage, "calls", 0),
        "prompt_tokens": getattr(usage, "prompt_tokens", 0),
        "completion_tokens": getattr(usage, "completion_tokens", 0),
        "split": len(subtasks) > 1,
        "subtasks": subtasks,
        "changed": list(getattr(result, "changed", None) or []),
        # made-up data for these user variables was caught and the code inserted commented out
        "blocked": list(getattr(result, "overwrites", None) or []),
    }


def run_tasks(
    tasks: Iterable[NotebookTask],
    nb: NotebookShell,
    mode: str,
    plan: bool = True,
    out: Path | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Run each task and yield its record (also appended to ``out`` as one JSON line)."""
    for task in tasks:
        record = nb.run_task(task, mode, plan)
        if out is not None:
            with out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        if on_record is not None:
            on_record(record)
        yield record


# -- reporting --------------------------------------------------------------------------------------
def _stats(records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    k = sum(bool(r["passed"]) for r in records)
    secs = [r["seconds"] for r in records] or [0.0]
    toks = [r.get("prompt_tokens", 0) + r.get("completion_tokens", 0) for r in records] or [0]
    return {
        "tasks": n,
        "passed": k,
        "pass_at_1": round(100 * k / n, 2) if n else 0.0,
        "overwrites": sum(bool(r["overwrites"]) for r in records),
        "overwritten": {r["task_id"]: r["overwrites"] for r in records if r["overwrites"]},
        "blocked": sum(bool(r.get("blocked")) for r in records),
        "split": sum(bool(r.get("split")) for r in records),
        "median_seconds": round(statistics.median(secs), 3),
        "mean_seconds": round(statistics.fmean(secs), 3),
        "mean_tokens": round(statistics.fmean(toks), 1),
    }


def summarize(records: list[dict[str, Any]], **meta: Any) -> dict[str, Any]:
    """pass@1, overwrites and seconds of a run, for all tasks and for the multi-part ones."""
    return {
        **meta,
        **_stats(records),
        "multipart": _stats([r for r in records if r.get("multipart")]),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def task_line(record: dict[str, Any]) -> str:
    """One line per task: verdict, id, seconds, and why it failed or what it overwrote."""
    verdict = "PASS" if record["passed"] else "FAIL"
    why = ""
    if record["overwrites"]:
        why = "OVERWROTE " + ", ".join(record["overwrites"]) + "; "
    if not record["passed"]:
        why += record["error"] or record["failed_check"] or ""
    tags = ("multi" if record.get("multipart") else "") + (" split" if record.get("split") else "")
    return f"{verdict}  {record['task_id']:<28} {record['seconds']:7.1f} s  {tags:<11} {why}".rstrip()


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The run's summary for the terminal: all tasks, then the multi-part subset."""

    def line(label: str, s: dict[str, Any]) -> str:
        return (
            f"{label}: pass@1 = {s['pass_at_1']:.1f}% ({s['passed']}/{s['tasks']}), "
            f"overwrites {s['overwrites']} (caught and commented out: {s.get('blocked', 0)}), "
            f"seconds median {s['median_seconds']:.1f} "
            f"mean {s['mean_seconds']:.1f}"
        )

    lines = [line("all", summary), line("multi-part", summary["multipart"])]
    if summary["overwritten"]:
        lines.append(
            "overwritten: " + "; ".join(f"{t}: {', '.join(v)}" for t, v in summary["overwritten"].items())
        )
    return lines


def load_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


__all__ = [
    "MODES",
    "TASKS_DIR",
    "NotebookShell",
    "NotebookTask",
    "Snapshot",
    "digest",
    "read_tasks",
    "run_tasks",
    "summarize",
]
