"""End-to-end ablation: does retrieval help the real 0.5B model use a project's helpers?

Twelve tasks each ask for a small function that should reuse a helper of
``benchmarks/rag_project/shoplib`` (conventions a model cannot guess: comma decimals, a fiscal
year starting in April, '~'-joined slugs, ...). Each runs through the same ``Pipeline`` twice:
without a context provider, and with the default ``Retriever`` over the project folder. The
sandbox kernels get the project on ``sys.path``, so ``from shoplib.money import ...`` works in
both conditions: the only difference is what the model is shown.

    .venv/bin/python benchmarks/rag_ablation.py [--model qwen2.5-coder-0.5b] [--out results/rag_ablation.json]

Defaults keep it to a few minutes on 2 cores: one greedy candidate and one repair round per task
(``--candidates``/``--max-iters`` raise them), no decomposition.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE / "rag_project"

_TMP = "import os, tempfile\n    p = os.path.join(tempfile.mkdtemp(), 'f.txt')\n"
TASKS = [
    ("price_label", "Write `price_label(cents)` that returns how our shop shows a price, using our `format_price` helper.",
     "assert price_label(123456) == '1.234,56 €'\nassert price_label(5) == '0,05 €'"),
    ("total_cents", "Write `total_cents(amounts)` that sums a list of ERP amount strings into cents with our `to_cents` helper.",
     "assert total_cents(['1,50', '2.000,25']) == 200175\nassert total_cents([]) == 0"),
    ("gross", "Write `gross(net_cents, category)` that returns the gross price in cents for a VAT category, using our `apply_vat` helper.",
     "assert gross(1000, 'food') == 1070\nassert gross(999, 'standard') == 1189"),
    ("quarter_of", "Write `quarter_of(text)` that takes a date like '15.05.2024' and returns its fiscal quarter label, using our `parse_day` and `fiscal_quarter` helpers.",
     "assert quarter_of('15.05.2024') == 'FY2024-Q1'\nassert quarter_of('02.02.2025') == 'FY2024-Q4'"),
    ("product_url", "Write `product_url(title)` that returns '/p/' followed by the product's slug made by our `slugify` helper.",
     "assert product_url('Big Blue Mug') == '/p/big~blue~mug'"),
    ("same_product", "Write `same_product(a, b)` that tells whether two SKUs are the same product once canonicalised with our `normalize_sku` helper.",
     "assert same_product('sku-123', '00000123')\nassert not same_product('SKU 124', '123')"),
    ("greeting", "Write `greeting(user)` that returns 'Hello, ' followed by the customer's name as our `display_name` helper writes it, then '!'.",
     "assert greeting({'first': 'ada', 'last': 'Lovelace'}) == 'Hello, LOVELACE, Ada!'"),
    ("get_port", "Write `get_port(path)` that reads a settings file with our `read_settings` helper and returns the server port.",
     f"def test_port():\n    {_TMP}    open(p, 'w').write('server.port = 8080\\nserver.host = example.org\\n')\n    assert get_port(p) == 8080"),
    ("distance", "Write `distance(a, b)` that returns the distance in whole km (rounded) between two of our warehouses given by name, using our `WAREHOUSES` table and `haversine_km` helper.",
     "assert distance('berlin', 'paris') == 877\nassert distance('oslo', 'oslo') == 0"),
    ("order_total", "Write `order_total(path)` that returns the total value in cents (quantity times price) of an order export read with our `load_orders` helper.",
     f"def test_total():\n    {_TMP}    open(p, 'w').write('id;sku;qty;price\\nA1;X;2;1,50\\nA2;Y;1;10,00\\n')\n    assert order_total(p) == 1300"),
    ("pickups", "Write `pickups(parcels)` that returns how many carrier pickups a list of parcels needs, using our `in_batches` helper.",
     "assert pickups(list(range(7))) == 3\nassert pickups([]) == 0"),
    ("user_key", "Write `user_key(user_id)` that returns the shared-cache key of a user, built with our `cache_key` helper from 'user' and the id.",
     "assert user_key(42) == 'shop::user::42'"),
]  # fmt: skip


IN_SCOPE = """\
import builtins, importlib, inspect
for _m in ("money", "dates", "text", "config", "geo", "orders"):
    _mod = importlib.import_module("shoplib." + _m)
    for _n, _v in vars(_mod).items():
        if not _n.startswith("_") and (inspect.isfunction(_v) or _n.isupper()) and getattr(_v, "__module__", _mod.__name__) == _mod.__name__:
            setattr(builtins, _n, _v)
"""


def run(
    model_name: str,
    out: Path | None,
    limit: int | None,
    candidates: int,
    max_iters: int,
    max_tokens: int,
    threads: int = 1,
    in_scope: bool = False,
) -> dict:
    """Both conditions on every task; returns the summary (and writes it to ``out``)."""
    from smallcode_jupyter.context.retriever import Retriever
    from smallcode_jupyter.loop.events import Request
    from smallcode_jupyter.loop.pipeline import Pipeline
    from smallcode_jupyter.loop.settings import settings_for_model
    from smallcode_jupyter.models import llm, resolve
    from smallcode_jupyter.sandbox import Sandbox

    resolved = resolve(model_name)
    settings = settings_for_model(resolved)
    model = llm.load(resolved, n_threads=threads)
    t0 = time.perf_counter()
    retriever = Retriever(PROJECT, say=lambda s: print(s, file=sys.stderr))
    retriever.refresh(force=True)
    index_seconds = time.perf_counter() - t0
    tasks = TASKS[:limit] if limit else TASKS
    rows = []
    try:  # the hardened sandbox binds the project read-only; older ones see the whole disk
        sandbox_cm = Sandbox(timeout=10, project=PROJECT)
    except TypeError:
        sandbox_cm = Sandbox(timeout=10)
    setup = f"import sys; sys.path.insert(0, {str(PROJECT)!r})"  # the environment is scrubbed: no PYTHONPATH
    if in_scope:  # like helpers defined in notebook cells: callable without an import
        setup += "\n" + IN_SCOPE
    with sandbox_cm as sandbox:
        for name, task, checks in tasks:
            row = {"task": name}
            for cond, provider in (("without", None), ("with", retriever)):
                sandbox.run(setup)  # in this request's kernel (the pipeline swaps kernels after each)
                pipe = Pipeline(model, settings, sandbox=sandbox, context=provider)
                req = Request(
                    task,
                    checks,
                    candidates=candidates,
                    max_iters=max_iters,
                    max_tokens=max_tokens,
                    plan=False,
                    timeout=10,
                )
                r = pipe.run(req)
                row[cond] = {"passed": bool(r.passed), "tests": f"{r.tests_passed}/{r.tests_total}",
                             "seconds": round(r.seconds, 1), "tokens": r.usage.tokens, "sources": r.sources,
                             "failure": r.failure[:200], "code": r.code}  # fmt: skip
                print(f"{name:<13} {cond:<8} {'PASS' if r.passed else 'fail'} {r.tests_passed}/{r.tests_total} "
                      f"{r.seconds:5.1f} s  {', '.join(r.sources[:3])}", file=sys.stderr)  # fmt: skip
            rows.append(row)
    n = len(rows)
    summary = {
        "model": resolved.name, "tasks": n, "candidates": candidates, "max_iters": max_iters, "max_tokens": max_tokens,
        "threads": threads, "helpers_in_scope": in_scope, "context_budget": settings.context_budget,
        "pass_without": sum(r["without"]["passed"] for r in rows), "pass_with": sum(r["with"]["passed"] for r in rows),
        "mean_seconds_without": round(sum(r["without"]["seconds"] for r in rows) / n, 1),
        "mean_seconds_with": round(sum(r["with"]["seconds"] for r in rows) / n, 1),
        "index_seconds": round(index_seconds, 1), "rows": rows,
    }  # fmt: skip
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    return summary


def posthoc_autoimport(results: Path) -> dict:
    """Re-check each final "with retrieval" candidate after ``add_missing_imports`` (no LLM calls).

    An estimate of what wiring the auto-import into the generation stage would give: the loop
    itself might then have taken other paths (fewer repairs), so this is a lower-effort proxy.
    """
    from smallcode_jupyter.context.retriever import Retriever
    from smallcode_jupyter.loop.code import named_function, stub_entry_point
    from smallcode_jupyter.loop.imports import add_missing_imports
    from smallcode_jupyter.loop.pipeline import gather_checks
    from smallcode_jupyter.loop.verify import Verifier
    from smallcode_jupyter.sandbox import Sandbox

    data = json.loads(results.read_text())
    tasks = {name: (task, checks) for name, task, checks in TASKS}
    retriever = Retriever(PROJECT, say=lambda s: None)
    setup = f"import sys; sys.path.insert(0, {str(PROJECT)!r})"
    passed, changed = 0, []
    with Sandbox(timeout=10, project=PROJECT) as sandbox:
        for row in data["rows"]:
            task, checks = tasks[row["task"]]
            code = row["with"]["code"]
            fixed = add_missing_imports(code, retriever.retrieve(task))
            if fixed == code:
                passed += row["with"]["passed"]
                continue
            sandbox.run(setup)
            entry = stub_entry_point(task) or named_function(task)
            report = Verifier(sandbox, check_timeout=5).run(fixed, gather_checks(task, checks, entry))
            sandbox.reset()
            passed += report.ok
            changed.append({"task": row["task"], "before": row["with"]["passed"], "after": report.ok})
    return {"tasks": len(data["rows"]), "pass_with_autoimport": passed, "changed": changed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--out", type=Path, default=Path("results/rag_ablation.json"))
    ap.add_argument("--limit", type=int)
    ap.add_argument("--candidates", type=int, default=1)
    ap.add_argument("--max-iters", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=192)
    ap.add_argument(
        "--threads", type=int, default=1, help="llama.cpp threads (1 is fastest on a busy machine)"
    )
    ap.add_argument(
        "--helpers-in-scope",
        action="store_true",
        help="helpers callable without an import (like notebook cells)",
    )
    ap.add_argument(
        "--posthoc-autoimport",
        type=Path,
        metavar="RESULTS",
        help="re-check a run's final candidates with the missing imports added",
    )
    args = ap.parse_args()
    if args.posthoc_autoimport:
        print(json.dumps(posthoc_autoimport(args.posthoc_autoimport), indent=1))
        return 0
    s = run(
        args.model,
        args.out,
        args.limit,
        args.candidates,
        args.max_iters,
        args.max_tokens,
        args.threads,
        args.helpers_in_scope,
    )
    n = s["tasks"]
    print(f"| condition | pass rate | mean s/task |\n|---|---|---|\n"
          f"| without retrieval | {s['pass_without']}/{n} ({100 * s['pass_without'] / n:.0f}%) | {s['mean_seconds_without']} |\n"
          f"| with retrieval | {s['pass_with']}/{n} ({100 * s['pass_with'] / n:.0f}%) | {s['mean_seconds_with']} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
