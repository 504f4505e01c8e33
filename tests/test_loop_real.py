"""The agent loop end to end on the real Qwen2.5-Coder-0.5B (greedy and seeded: deterministic
for a given llama.cpp build)."""

from __future__ import annotations

import pytest

from smallcode_jupyter.loop.events import Request
from smallcode_jupyter.loop.pipeline import Pipeline
from smallcode_jupyter.loop.settings import settings_for_model
from smallcode_jupyter.models import llm as llm_mod
from smallcode_jupyter.sandbox import Sandbox

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(timeout=10) as sb:
        yield sb


def _run(qwen05, sandbox, request: Request):
    events = []
    model = llm_mod.load(qwen05)
    result = Pipeline(model, settings_for_model(qwen05), sink=events.append, sandbox=sandbox).run(request)
    return result, events


def test_multi_part_task_through_the_decomposer(qwen05, sandbox):
    task = (
        "write a text statistics module with a function words(text) that splits text on whitespace into "
        "lowercase words, a function counts(text) that counts word frequencies, and a function "
        "top_words(text, n) that returns the n most common words"
    )
    tests = (
        'assert words("Hello hello World") == ["hello", "hello", "world"]\n'
        'assert counts("a b a") == {"a": 2, "b": 1}\n'
        'assert top_words("a b a c a b", 2) == ["a", "b"]\n'
    )
    result, events = _run(qwen05, sandbox, Request(task, context=tests))
    plans = [e for e in events if e.kind == "plan"]
    assert plans and len(plans[0].data["subtasks"]) >= 2
    parts = [e.data["part"] for e in events if e.kind == "generate"]
    assert len(set(parts)) >= 2  # one call per part
    assert result.passed and result.tests_total == 3
    ns: dict = {}
    exec(compile(result.code, "<generated>", "exec"), ns)  # the tests above, once more, by hand
    assert ns["top_words"]("x y x", 1) == ["x"]


def test_humaneval_task_whose_greedy_answer_fails_its_examples(qwen05, sandbox):
    from smallcode_jupyter.bench.runner import humaneval_path, read_tasks

    task = next(t for t in read_tasks(humaneval_path()) if t.task_id == "HumanEval/9")  # rolling_max
    result, events = _run(qwen05, sandbox, Request(task.prompt, entry_point=task.entry_point))
    runs = [e.data for e in events if e.kind == "run"]
    assert not runs[0]["ok"] and "rolling_max" in runs[0]["failure"]  # the model alone gets it wrong
    assert result.passed and result.candidates > 1
    hidden = sandbox.run(f"{result.code}\n{task.test}\ncheck({task.entry_point})")  # after the loop
    assert hidden.ok, hidden.traceback


def test_behaviour_voting_on_model_written_inputs(qwen05, sandbox):
    """The greedy answer to HumanEval/9 fails its example, so more candidates come; each runs on
    the prompt's example and on inputs the real model wrote (grammar-constrained JSON), and every
    one is logged with its behaviour on them."""
    from smallcode_jupyter.bench.runner import humaneval_path, read_tasks

    task = next(t for t in read_tasks(humaneval_path()) if t.task_id == "HumanEval/9")
    result, events = _run(qwen05, sandbox, Request(task.prompt, entry_point=task.entry_point))
    probes = [e.data for e in events if e.kind == "checks" and "compare" in e.data["sources"]]
    assert probes and len(result.probes) == probes[0]["count"] >= 2  # the example and the model's inputs
    assert all(p.startswith("rolling_max([") for p in result.probes)
    assert len(result.attempts) == result.candidates >= 2
    assert all(len(a.behaviour) == len(result.probes) for a in result.attempts if a.loaded)
    assert result.passed
