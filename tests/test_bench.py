"""The benchmark harness: honest protocol (canary), output format, report; smoke on smollm2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from smallcode_jupyter.bench.report import compare, failure_kinds, markdown, merge
from smallcode_jupyter.bench.runner import Recorder, Task, read_tasks, run_tasks, summarize
from smallcode_jupyter.loop.events import Request
from smallcode_jupyter.loop.pipeline import Pipeline
from smallcode_jupyter.loop.settings import LoopSettings
from smallcode_jupyter.sandbox import Sandbox

from .conftest import FakeLLM

CANARY = "CANARY-7f3e-hidden-test-must-never-leak"
PROMPT = 'def inc(x):\n    """Add one.\n    >>> inc(1)\n    2\n    """\n'


def _tasks() -> list[Task]:
    test = f"# {CANARY}\ndef check(f):\n    assert f(1) == 2, {CANARY!r}\n    assert f(5) == 6\n"
    return [Task(f"T/{i}", PROMPT, "inc", test) for i in range(3)]


class SpySandbox:
    """A real sandbox that remembers every program it was asked to run."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox, self.programs = sandbox, []

    def run(self, code, timeout=None):
        self.programs.append(code)
        return self.sandbox.run(code, timeout=timeout)

    def __getattr__(self, name):
        return getattr(self.sandbox, name)


class RecordingLLM(FakeLLM):
    """Answers wrong first, then right, and remembers every prompt it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def chat(self, messages, **kw):
        self.n += 1
        self.replies = [
            "def inc(x):\n    return x + 2\n```" if self.n % 2 else "def inc(x):\n    return x + 1\n```"
        ]
        return super().chat(messages, **kw)


@pytest.mark.parametrize("mode", ["vanilla", "loop", "bestof"])
def test_hidden_test_never_reaches_the_loop(tmp_path, mode, capsys):
    llm, rec = RecordingLLM(), Recorder()
    out = tmp_path / "r.jsonl"
    with Sandbox(timeout=10) as real:
        sb = SpySandbox(real)
        records = list(
            run_tasks(
                _tasks(),
                llm,
                LoopSettings(candidates=2, max_iters=1),
                mode,
                sb,
                out=out,
                budget=200,
                sink=rec,
                progress=False,
            )
        )
    seen = json.dumps([c["messages"] for c in llm.calls]) + json.dumps([e.data for e in rec.events])
    seen += capsys.readouterr().out + capsys.readouterr().err
    assert CANARY not in seen
    hidden = "".join("H" if CANARY in prog else "." for prog in sb.programs)
    # Each task: the loop's runs, then (after it returned) the hidden test of its answer and of
    # every other candidate it logged. Never a loop run after a hidden one of the same task.
    blocks = [b for b in hidden.split(".") if b]
    if mode == "vanilla":  # nothing runs in the loop: one answer, one hidden run per task
        assert hidden == "HHH"
    else:
        assert len(blocks) == 3 and hidden.endswith("H") and not hidden.startswith("H")
    assert all(len(r["attempts"]) >= 1 and all("hidden" in a for a in r["attempts"]) for r in records)
    assert len(records) == 3 and len(out.read_text().splitlines()) == 3
    if mode == "vanilla":
        # one greedy call per task; the scripted model alternates wrong/right across calls
        assert [r["passed"] for r in records] == [False, True, False]
        assert all(r["llm_calls"] == 1 for r in records)
    else:
        assert all(r["passed"] for r in records)  # the docstring example led to the right answer
    keys = {
        "task_id",
        "passed",
        "visible_passed",
        "visible_total",
        "llm_calls",
        "candidates",
        "repair_iterations",
        "prompt_tokens",
        "completion_tokens",
        "seconds",
        "code",
        "attempts",
        "probes",
    }
    assert keys <= set(records[0])


def test_summary_and_report(tmp_path):
    van = [
        {
            "task_id": f"T/{i}",
            "passed": i < 2,
            "seconds": 1.0,
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "llm_calls": 1,
        }
        for i in range(4)
    ]
    loop = [{**r, "passed": r["task_id"] != "T/0", "seconds": 2.0} for r in van]
    for name, recs, mode in (("v", van, "vanilla"), ("l", loop, "loop")):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
        (tmp_path / f"{name}.summary.json").write_text(json.dumps(summarize(recs, mode=mode, label=name)))
    rows = compare([tmp_path / "v.jsonl", tmp_path / "l.jsonl"])
    assert rows[1]["pass@1"] == 75.0 and rows[1]["fail→pass"] == 2 and rows[1]["pass→fail"] == 1
    assert "| l | loop |" in markdown(rows)
    sample = compare([tmp_path / "v.jsonl", tmp_path / "l.jsonl"], only={"T/0", "T/3"})
    assert sample[1]["tasks"] == 2 and sample[1]["fail→pass"] == 1 and sample[1]["pass→fail"] == 1


def test_merge_joins_parts_in_task_order(tmp_path):
    recs = [
        {
            "task_id": f"T/{i}",
            "passed": True,
            "seconds": 1.0,
            "prompt_tokens": 1,
            "completion_tokens": 1,
            "llm_calls": 1,
        }
        for i in range(12)
    ]
    for name, part, rss in (("a", recs[10:], 700.0), ("b", recs[:10], 750.0)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
        (tmp_path / f"{name}.summary.json").write_text(
            json.dumps({"mode": "loop", "label": "x", "peak_rss_mb": rss})
        )
    summary = merge([tmp_path / "a.jsonl", tmp_path / "b.jsonl"], tmp_path / "all.jsonl")
    ids = [json.loads(line)["task_id"] for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert ids == [f"T/{i}" for i in range(12)]
    assert summary["tasks"] == 12 and summary["peak_rss_mb"] == 750.0 and summary["mode"] == "loop"


def test_failure_kinds():
    recs = [
        {"passed": False, "visible_total": 0, "visible_passed": 0},
        {"passed": False, "visible_total": 3, "visible_passed": 1},
        {"passed": False, "visible_total": 2, "visible_passed": 2},
        {"passed": True, "visible_total": 2, "visible_passed": 2},
    ]
    assert failure_kinds(recs) == {"no checks": 1, "visible fail": 1, "hidden only": 1}


def test_read_tasks_ignores_other_fields(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text(
        json.dumps({"task_id": "a", "prompt": "p", "entry_point": "f", "test": "t", "extra": 1}) + "\n"
    )
    assert read_tasks(p)[0].entry_point == "f"


@pytest.mark.model
@pytest.mark.parametrize("mode", ["vanilla", "loop", "bestof"])
def test_smoke_every_mode_on_smollm2(tmp_path, mode):
    out = tmp_path / f"{mode}.jsonl"
    args = [
        sys.executable,
        "-m",
        "smallcode_jupyter.cli",
        "bench",
        "humaneval",
        "--model",
        "smollm2-135m",
        "--mode",
        mode,
        "--limit",
        "3",
        "--out",
        str(out),
        "--max-tokens",
        "128",
    ]
    if mode == "bestof":
        args += ["--budget", "600"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1].startswith("pass@1 = ")
    assert len(out.read_text().splitlines()) == 3
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert summary["tasks"] == 3 and summary["peak_rss_mb"] > 0
    # --resume skips what is done
    proc = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and len(out.read_text().splitlines()) == 3


def test_report_counts_each_model_against_its_own_vanilla(tmp_path):
    runs = {
        "v05": ("vanilla", "a", [False, False]),
        "v15": ("vanilla", "b", [True, False]),
        "l15": ("loop", "b", [True, True]),
    }
    for name, (mode, model, passed) in runs.items():
        recs = [
            {
                "task_id": f"T/{i}",
                "passed": p,
                "seconds": 1.0,
                "prompt_tokens": 1,
                "completion_tokens": 1,
                "llm_calls": 1,
            }
            for i, p in enumerate(passed)
        ]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
        (tmp_path / f"{name}.summary.json").write_text(
            json.dumps({"mode": mode, "model": model, "label": name})
        )
    rows = compare([tmp_path / f"{n}.jsonl" for n in runs])
    assert rows[2]["fail→pass"] == 1  # against v15, not against the first vanilla run (v05)


class TenTokenLLM(FakeLLM):
    """Every prompt and every reply costs 10 tokens, so budgets count calls."""

    def count_tokens(self, text: str) -> int:
        return 10


WRONG, RIGHT = "def inc(x):\n    return x + 2\n```", "def inc(x):\n    return x + 1\n```"
TWO_EXAMPLES = 'def inc(x):\n    """Add one.\n    >>> inc(1)\n    2\n    >>> inc(5)\n    6\n    """\n'


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(timeout=10) as sb:
        yield sb


def bestof(replies, sandbox, budget):
    llm, events = TenTokenLLM(replies), []
    pipeline = Pipeline(llm, LoopSettings(candidates=2, max_iters=3), sink=events.append, sandbox=sandbox)
    return pipeline.run(Request(TWO_EXAMPLES, entry_point="inc", budget=budget)), llm, events


def test_bestof_samples_until_a_candidate_passes(sandbox):
    result, llm, events = bestof([WRONG, WRONG, RIGHT, WRONG], sandbox, budget=1000)
    assert result.passed and result.candidates == 3 and result.iterations == 0
    assert [c["seed"] for c in llm.calls] == [1000, 1001, 1002]
    assert [c["temperature"] for c in llm.calls] == [0.0, 0.8, 0.8]  # greedy, then samples
    assert [e.data["origin"] for e in events if e.kind == "generate"] == ["greedy", "sample", "sample"]
    # every sample runs, even one identical to an earlier one (no verdict cache, as benchmarked)
    assert [e.ok for e in events if e.kind == "run"] == [False, False, True]


def test_bestof_stops_at_the_budget_and_keeps_the_best(sandbox):
    half = "def inc(x):\n    return 2 if x == 1 else 0\n```"
    result, llm, _ = bestof([WRONG, half, WRONG, RIGHT], sandbox, budget=50)  # 20 tokens a call
    assert len(llm.calls) == 3 and result.candidates == 3
    assert "2 if x == 1" in result.code and not result.passed  # passes the first example, not the second
    assert (result.tests_passed, result.tests_total) == (1, 2)
    assert all("assert statements" not in c["messages"][-1]["content"] for c in llm.calls)


def test_bestof_without_a_sandbox_is_the_greedy_answer():
    llm = TenTokenLLM([WRONG])
    result = Pipeline(llm, LoopSettings()).run(Request(PROMPT, entry_point="inc", budget=1000))
    assert result.passed is None and len(llm.calls) == 1 and "x + 2" in result.code


def test_bestof_needs_a_budget():
    with pytest.raises(ValueError, match="budget"):
        next(run_tasks(_tasks(), FakeLLM(), LoopSettings(), "bestof", None, budget=0, progress=False))
