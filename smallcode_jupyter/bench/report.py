"""``smallcode bench report``: compare runs in a Markdown table and a PNG plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .runner import load_records


def _summary_of(path: Path) -> dict[str, Any]:
    side = path.with_suffix(".summary.json")
    return json.loads(side.read_text()) if side.exists() else {}


def _task_order(task_id: str) -> tuple[str, int]:
    prefix, _, num = task_id.rpartition("/")
    return (prefix, int(num)) if num.isdigit() else (task_id, -1)


def merge(paths: list[Path], out: Path) -> dict[str, Any]:
    """Join the parts of one run (e.g. HumanEval/0–80 and /81–163) into one results file.

    A task in several parts keeps its last record; the summary's peak RSS is the largest part's.
    """
    from .runner import summarize

    by_id: dict[str, dict[str, Any]] = {}
    for p in paths:
        by_id.update({r["task_id"]: r for r in load_records(p)})
    records = sorted(by_id.values(), key=lambda r: _task_order(r["task_id"]))
    parts = [_summary_of(p) for p in paths]
    meta = {
        k: v
        for k, v in parts[0].items()
        if k in ("mode", "model", "label", "budget", "settings", "llama", "threads", "gguf")
    }
    summary = summarize(records, **meta, parts=[str(p) for p in paths])
    summary["peak_rss_mb"] = max((s.get("peak_rss_mb") or 0.0 for s in parts), default=None)
    out.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def failure_kinds(records: list[dict[str, Any]]) -> dict[str, int]:
    """Why the failed tasks failed, from what the loop could see: no check at all, no candidate
    passing the visible checks, or every visible check passed but the hidden tests did not."""
    failed = [r for r in records if not r["passed"]]
    return {
        "no checks": sum(r.get("visible_total", 0) == 0 for r in failed),
        "visible fail": sum(
            r.get("visible_total", 0) > 0 and r["visible_passed"] < r["visible_total"] for r in failed
        ),
        "hidden only": sum(0 < r.get("visible_total", 0) == r["visible_passed"] for r in failed),
    }


def compare(paths: list[Path], only: set[str] | None = None) -> list[dict[str, Any]]:
    """One row per run; fail→pass / pass→fail are counted against the vanilla run of the same
    model (or the first vanilla run).

    ``only`` restricts every run to those task ids (to compare a sample run with full runs).
    """
    runs = [(p, load_records(p), _summary_of(p)) for p in paths]
    if only is not None:
        runs = [(p, [r for r in recs if r["task_id"] in only], s) for p, recs, s in runs]
    vanillas = [(s.get("model"), recs) for _, recs, s in runs if s.get("mode") == "vanilla"]
    rows = []
    for p, recs, s in runs:
        base = next((v for m, v in vanillas if m == s.get("model")), vanillas[0][1] if vanillas else None)
        base_pass = {r["task_id"]: r["passed"] for r in base} if base else {}
        n = len(recs)
        k = sum(r["passed"] for r in recs)
        secs = sorted(r["seconds"] for r in recs) or [0.0]
        toks = [r["prompt_tokens"] + r["completion_tokens"] for r in recs] or [0]
        common = [r for r in recs if r["task_id"] in base_pass]
        rows.append(
            {
                "run": s.get("label") or p.stem,
                "mode": s.get("mode", "?"),
                "model": s.get("model", "?"),
                "tasks": n,
                "pass@1": 100 * k / n if n else 0.0,
                "passed": k,
                "fail→pass": sum(r["passed"] and not base_pass[r["task_id"]] for r in common)
                if base
                else None,
                "pass→fail": sum(not r["passed"] and base_pass[r["task_id"]] for r in common)
                if base
                else None,
                "median s": secs[len(secs) // 2]
                if len(secs) % 2
                else (secs[len(secs) // 2 - 1] + secs[len(secs) // 2]) / 2,
                "mean s": sum(secs) / len(secs),
                "tokens/task": sum(toks) / len(toks),
                "peak RSS MB": s.get("peak_rss_mb"),
                "failed: no check / visible / hidden only": (
                    "–"
                    if s.get("mode") == "vanilla"
                    else "{no checks} / {visible fail} / {hidden only}".format(**failure_kinds(recs))
                ),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    cols = [
        "run",
        "mode",
        "model",
        "tasks",
        "pass@1",
        "fail→pass",
        "pass→fail",
        "median s",
        "mean s",
        "tokens/task",
        "peak RSS MB",
        "failed: no check / visible / hidden only",
    ]

    def fmt(v: Any) -> str:
        if v is None:
            return "–"
        return f"{v:.1f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """pass@1 against mean seconds per task, one point per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    names = [r["run"] for r in rows]
    a.barh(names, [r["pass@1"] for r in rows], color="#4c72b0")
    a.set_xlabel("HumanEval pass@1 (%)")
    a.invert_yaxis()
    for i, r in enumerate(rows):
        a.text(r["pass@1"] + 0.5, i, f"{r['pass@1']:.1f}", va="center", fontsize=8)
    b.scatter([r["mean s"] for r in rows], [r["pass@1"] for r in rows])
    for r in rows:
        b.annotate(
            r["run"], (r["mean s"], r["pass@1"]), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
    b.set_xlabel("mean seconds per task")
    b.set_ylabel("pass@1 (%)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(paths: list[Path], md_out: Path | None, png_out: Path | None, only: set[str] | None = None) -> str:
    rows = compare(paths, only)
    text = markdown(rows)
    if md_out:
        md_out.write_text(text, encoding="utf-8")
    if png_out:
        plot(rows, png_out)
    return text
