"""Behaviour voting: probes, the model's inputs, the choosers, and the offline replay."""

from __future__ import annotations

import json

import pytest

from smallcode_jupyter.bench.rechoose import choose, rechoose
from smallcode_jupyter.loop.checks import CHECK_PRELUDE
from smallcode_jupyter.loop.events import Request
from smallcode_jupyter.loop.harness import run_here
from smallcode_jupyter.loop.inputs import parse_inputs, schema_for
from smallcode_jupyter.loop.pipeline import Pipeline
from smallcode_jupyter.loop.probes import call_args, crashes, outcome_text, probes
from smallcode_jupyter.loop.settings import LoopSettings
from smallcode_jupyter.loop.vote import Seen, dual, first_pass, groups, settled, stuck, vote
from smallcode_jupyter.models.llm import Completion
from smallcode_jupyter.sandbox import Sandbox

from .conftest import FakeLLM


def behaviour(code: str, entry: str, inputs: list[str]) -> list[str]:
    verdict = run_here(code, CHECK_PRELUDE, [p.code for p in probes(entry, inputs)], limit=5.0)
    return [outcome_text(o["name"] if o else None, o["value"] if o else "") for o in verdict["checks"]]


def test_probes_read_values_canonically_and_exceptions_by_class():
    code = "def f(xs):\n    return sorted(set(xs))[1]\n"
    assert behaviour(code, "f", ["[3, 1, 2]", "[]", "[1.0, 2.0]"]) == ["=2", "!IndexError", "=2"]
    assert behaviour("def f(x):\n    return {x, 1}\n", "f", ["3"]) == ["={1, 3}"]
    assert behaviour("def f(x):\n    while True:\n        pass\n", "f", ["1"]) == ["!TimeoutError"]  # 1 s
    mutating = "def f(xs):\n    xs.append(1)\n    return len(xs)\n"
    assert behaviour(mutating, "f", ["[]", "[]"]) == ["=1"]  # the same input once; fresh each call
    assert call_args("f([1, 2], k=3)", "f") == "[1, 2], k=3"
    assert call_args("f(g(1))", "f") is None and call_args("h(1)", "f") is None


def test_inputs_schema_is_typed_from_annotations_then_examples():
    stub = "from typing import List, Tuple\ndef f(a: List[int], b, c: Tuple[int, str]) -> bool:\n    pass\n"
    schema = schema_for(stub, "f", ["[1], 'x', (1, 'a')"], 3)
    items = schema["items"]["prefixItems"]
    assert items[0] == {"type": "array", "items": {"type": "integer"}, "maxItems": 6}
    assert items[1]["type"] == "string"  # unannotated: typed by the example's value
    assert items[2]["prefixItems"][1]["type"] == "string"
    assert schema["minItems"] == schema["maxItems"] == 3
    assert "items" not in schema["items"]  # no boolean schema ("items": false): llama-server refuses one
    assert schema_for("def g(*args):\n    pass\n", "g", [], 3) is None
    assert parse_inputs('[[1, "a"], [2, "b"], [3', 2, ["1, 'a'"]) == ["2, 'b'"]  # cut off; example dropped


def seen(i, passed, behaviour=(), loaded=True, total=2, agreed=0):
    return Seen(i, loaded, passed, total, tuple(behaviour), agreed)


def test_vote_takes_the_largest_group_among_the_best_by_visible_checks():
    pool = [
        seen(0, 2, ["=1"]),
        seen(1, 2, ["=2"]),
        seen(2, 2, ["=2"]),
        seen(3, 1, ["=2"]),
        seen(4, 2, ["!X"]),
    ]
    assert first_pass(pool).index == 0
    assert vote(pool).index == 1  # two agree; the one that fails a check does not vote
    assert [len(g) for g in groups(pool)] == [3, 1, 1]
    tie = [seen(0, 2, ["!IndexError"]), seen(1, 2, ["=0"])]
    assert vote(tie).index == 1  # a tie goes to the one that raises less
    assert not settled(pool[:2]) and settled(pool[:3]) and settled(pool[:1], need=1)
    assert vote([seen(0, 0, loaded=False), seen(1, 0, loaded=False)]).index == 0


def test_dual_agreement_never_lets_model_tests_alone_decide():
    # Candidate 0 passes 3 model tests alone; 1-3 agree with each other and pass 1: 3 x 2 > 1 x 4.
    pool = [
        seen(0, 0, ["=5", "TTTF"], total=0, agreed=3),
        *(seen(i, 0, ["=4", "FFFT"], total=0, agreed=1) for i in (1, 2, 3)),
    ]
    assert dual(pool).index == 1
    assert dual(pool[:2]).index == 0  # 1 x 4 beats 1 x 2


RIGHT = "def second(xs: list) -> int:\n    s = sorted(set(xs))\n    return s[1] if len(s) > 1 else None\n```"
GREEDY = "def second(xs: list) -> int:\n    return sorted(xs)[1]\n```"
OTHER = "def second(xs: list) -> int:\n    u = sorted(set(xs))\n    return None if len(u) < 2 else u[1]\n```"
STUB = 'def second(xs: list) -> int:\n    """The second smallest distinct value, None if there is none.\n    >>> second([3, 1, 2])\n    2\n    """\n'


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(timeout=10) as sb:
        yield sb


def test_greedy_that_raises_on_a_model_input_is_outvoted(sandbox):
    fake = FakeLLM([GREEDY, OTHER, RIGHT, RIGHT], inputs=["[[[1]], [[5, 5, 6]]]"])
    settings = LoopSettings(candidates=5, max_iters=0, probe_greedy=True)
    r = Pipeline(fake, settings, sandbox=sandbox).run(Request(STUB))
    assert r.passed and "set(xs)" in r.code
    assert r.probes == ["second([3, 1, 2])", "second([1])", "second([5, 5, 6])"]
    assert [a.behaviour for a in r.attempts][:2] == [["=2", "!IndexError", "=5"], ["=2", "=None", "=6"]]
    assert r.candidates == 3 and r.agreement == "2 of 3 passing candidates behave alike"  # then it stopped
    assert "behave alike" in r.summary()


def test_greedy_that_runs_on_every_input_stands_alone(sandbox):
    fake = FakeLLM([RIGHT], inputs=["[[[1]], [[5, 5, 6]]]"])
    settings = LoopSettings(candidates=5, max_iters=0, probe_greedy=True)
    r = Pipeline(fake, settings, sandbox=sandbox).run(Request(STUB))
    assert r.passed and r.candidates == 1 and len(r.attempts) == 1 and not r.agreement
    fake = FakeLLM([GREEDY])  # by default a greedy answer that passes every check stands: no inputs asked
    r = Pipeline(fake, LoopSettings(candidates=5, max_iters=0), sandbox=sandbox).run(Request(STUB))
    assert r.passed and r.candidates == 1 and len(fake.calls) == 1 and r.probes == []
    off = Pipeline(FakeLLM([GREEDY]), LoopSettings(candidates=5, max_iters=0), sandbox=sandbox)
    r = off.run(Request(STUB, vote=False))  # --no-vote: the first that passes, no inputs asked
    assert r.passed and r.probes == [] and r.candidates == 1


class BatchingLLM(FakeLLM):
    """A scripted model that also decodes several samples at once (as LLM.chat_batch)."""

    def __init__(self, replies, batches, inputs=()):
        super().__init__(replies, inputs)
        self.batches = list(batches)
        self.batch_calls: list[dict] = []

    def chat_batch(
        self, messages, *, n, prefill="", max_tokens=512, temperature=0.8, seeds, stop=(), cancel=None
    ):
        self.batch_calls.append({"n": n, "seeds": list(seeds), "temperature": temperature})
        texts = self.batches.pop(0)
        assert len(texts) == n
        return [Completion(t, 50, self.count_tokens(t), 0.5, 0.1) for t in texts]


def test_in_doubt_the_samples_come_in_one_batch(sandbox):
    # The greedy continuation repeats the greedy code: one opinion, so the batch still comes.
    llm = BatchingLLM([GREEDY, "    return sorted(xs)[1]\n```"], [[OTHER, RIGHT, GREEDY]], inputs=["[[[1]]]"])
    settings = LoopSettings(candidates=5, max_iters=0, batch=True, probe_greedy=True)
    r = Pipeline(llm, settings, sandbox=sandbox).run(Request(STUB))
    assert r.passed and "set(xs)" in r.code and r.agreement == "2 of 3 passing candidates behave alike"
    assert llm.batch_calls == [{"n": 3, "seeds": [1002, 1003, 1004], "temperature": 0.8}]
    assert [a.origin for a in r.attempts] == ["greedy", "greedy body", "sample", "sample", "sample"]
    assert r.usage.calls == 4  # greedy, inputs, the greedy body, one batch
    plain = Pipeline(
        FakeLLM([GREEDY, OTHER, RIGHT], inputs=["[[[1]]]"]),
        LoopSettings(candidates=5, batch=True),
        sandbox=sandbox,
    )
    assert plain.run(Request(STUB)).passed  # a model without chat_batch samples one by one


def test_samples_come_in_batches_and_stop_after_the_batch_that_passes(sandbox):
    # The small class's schedule: up to 9 candidates for a function with checks, no repair,
    # batches of 2 here; the first batch holds no passing candidate, the second does: no third.
    wrong, worse = "def second(xs):\n    return max(xs)\n```", "def second(xs):\n    return min(xs)\n```"
    body = "    return max(xs)\n```"
    settings = LoopSettings(
        candidates=3, max_iters=2, vote_candidates=9, vote_repairs=0, batch=True, batch_size=2, agree=1
    )
    llm = BatchingLLM([wrong, body], [[worse, wrong], [wrong, RIGHT], [RIGHT, RIGHT]], inputs=["[[[1]]]"])
    r = Pipeline(llm, settings, sandbox=sandbox).run(Request(STUB))
    assert r.passed and "set(xs)" in r.code and r.iterations == 0
    assert [c["seeds"] for c in llm.batch_calls] == [[1002, 1003], [1004, 1005]]
    assert r.candidates == 6 and len(llm.batches) == 1
    llm = BatchingLLM([wrong, body], [[worse, wrong]] * 3 + [[worse]], inputs=["[[[1]]]"])
    r = Pipeline(llm, settings, sandbox=sandbox).run(Request(STUB))  # none passes: 9, then no repair
    assert not r.passed and r.candidates == 9 and r.iterations == 0
    assert [c["n"] for c in llm.batch_calls] == [2, 2, 2, 1]
    llm = BatchingLLM([wrong, body], [[worse, wrong]], inputs=["[[[1]]]"])
    asked = Request(STUB, candidates=4, max_iters=0)  # what the user asks for wins over the class
    r = Pipeline(llm, settings, sandbox=sandbox).run(asked)
    assert r.candidates == 4 and [c["n"] for c in llm.batch_calls] == [2]


def test_sampling_gives_up_after_a_batch_when_every_candidate_fails_alike(sandbox):
    # Every sample returns max(xs): the same wrong behaviour on every probe, so one batch and no more.
    wrong, body = "def second(xs):\n    return max(xs)\n```", "    return max(xs)\n```"
    other = "def second(xs):\n    m = max(xs)\n    return m\n```"
    settings = LoopSettings(
        candidates=3, max_iters=2, vote_candidates=9, vote_repairs=0, batch=True, batch_size=2, agree=1
    )
    llm = BatchingLLM([wrong, body], [[other, wrong], [RIGHT, RIGHT]], inputs=["[[[1]]]"])
    r = Pipeline(llm, settings, sandbox=sandbox).run(Request(STUB))
    assert not r.passed and r.candidates == 4 and [c["n"] for c in llm.batch_calls] == [2]
    assert stuck([seen(0, 1, ["=3"]), seen(1, 1, ["=3"]), seen(2, 0, loaded=False)])
    assert not stuck([seen(0, 1, ["=3"]), seen(1, 1, ["=2"])])  # they differ: another batch may pass
    assert not stuck([seen(0, 1, ["=3"]), seen(1, 2, ["=3"])])  # one passes
    assert not stuck([seen(0, 1, ["=3"])])  # one opinion is no agreement


def test_rechoose_replays_choosers_on_logged_candidates(tmp_path):
    codes = iter(range(100))

    def attempt(passed, behaviour, hidden):
        code = f"x = {next(codes)}"
        return {
            "code": code,
            "loaded": True,
            "passed": passed,
            "total": 1,
            "behaviour": behaviour,
            "hidden": hidden,
        }

    records = [
        {"task_id": "A", "passed": False, "attempts": [attempt(1, ["=1"], False), attempt(1, ["=2"], True), attempt(1, ["=2"], True)]},
        {"task_id": "B", "passed": True, "attempts": [attempt(1, ["=1"], True)]},
        {"task_id": "C", "passed": False, "attempts": [attempt(0, [], False), attempt(0, [], True)]},
    ]  # fmt: skip
    path = tmp_path / "run.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert [choose("vote", r) for r in records] == [True, True, False]
    assert [choose("oracle", r) for r in records] == [True, True, True]
    table = rechoose([path])
    assert (
        "| run | 3 | 2.0 | 0 | 33.3 % (1) | 33.3 % (1) | 33.3 % (1) | 66.7 % (2) |" in table
    )  # final, greedy, first-pass, vote
    assert table.strip().endswith("100.0 % (3) |")  # oracle
    assert "| run | 3 | 1.0 |" in rechoose([path], ["vote"], first=1)
    records[0]["attempts"][1]["origin"] = "fix"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert "| run | 3 | 1.7 | 0 | 100.0 % (3) |" in rechoose([path], ["oracle"], repair=False)
    assert crashes(["!A", "=1"]) == 1
    with pytest.raises(ValueError, match="unknown chooser"):
        rechoose([path], ["nope"])
