"""Control flow of the agent loop with a scripted model and a real sandbox kernel."""

from __future__ import annotations

import json

import jsonschema
import pytest

from smallcode_jupyter.loop import plan_prompts
from smallcode_jupyter.loop.events import Request
from smallcode_jupyter.loop.generate import task_messages
from smallcode_jupyter.loop.pipeline import Pipeline, gather_checks
from smallcode_jupyter.loop.plan import assemble, is_atomic, order, parse_plan
from smallcode_jupyter.loop.settings import LoopSettings
from smallcode_jupyter.loop.strategies import Job, SelfTested, Unit
from smallcode_jupyter.loop.verify import Verifier
from smallcode_jupyter.models.llm import json_grammar
from smallcode_jupyter.sandbox import Sandbox

from .conftest import FakeLLM

STUB = '''def double(x: int) -> int:
    """Return twice x.
    >>> double(2)
    4
    >>> double(-3)
    -6
    """
'''
RIGHT = "def double(x: int) -> int:\n    return 2 * x\n```"
WRONG = "def double(x: int) -> int:\n    return x * 3\n```"
HALF = "def double(x: int) -> int:\n    return 4 if x == 2 else 0\n```"
CRASH = "def double(x: int) -> int:\n    return undefined_name\n```"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(timeout=10) as sb:
        yield sb


def pipeline(replies, sandbox, events=None, **settings) -> tuple[Pipeline, FakeLLM]:
    fake = FakeLLM(replies)
    cfg = LoopSettings(**{"candidates": 1, "max_iters": 0, **settings})
    return Pipeline(fake, cfg, sink=(events.append if events is not None else None), sandbox=sandbox), fake


def code_calls(fake: FakeLLM) -> list[dict]:
    """The calls that wrote code (not the probe inputs of behaviour voting)."""
    return [c for c in fake.calls if c["json_schema"] is None]


def test_greedy_that_passes_stops_at_once(sandbox):
    events = []
    p, fake = pipeline([RIGHT], sandbox, events, candidates=5, max_iters=3)
    r = p.run(Request(STUB))
    assert r.passed and (r.tests_passed, r.tests_total) == (2, 2)
    assert len(code_calls(fake)) == 1 and fake.calls[0]["temperature"] == 0.0
    assert len(fake.calls) == 1  # no doubt: no inputs asked either
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and "run" in kinds and "token" in kinds


def test_failing_docstring_check_then_repair_passes(sandbox):
    p, fake = pipeline([WRONG, RIGHT], sandbox, max_iters=2)
    r = p.run(Request(STUB))
    assert r.passed and r.iterations == 1 and r.candidates == 2
    repair_prompt = code_calls(fake)[1]["messages"][-1]["content"]
    assert "return x * 3" in repair_prompt  # the failing code is shown
    assert "double(2)" in repair_prompt  # with the failing check
    assert code_calls(fake)[1]["temperature"] > 0  # a sampled repair, not a greedy repeat


def test_best_candidate_is_kept(sandbox):
    p, _ = pipeline([WRONG, HALF, CRASH], sandbox, candidates=3)
    r = p.run(Request(STUB))
    assert not r.passed and r.tests_passed == 1 and "4 if x == 2" in r.code
    assert "double(-3)" in r.failure


def test_max_iterations_stop(sandbox):
    p, fake = pipeline([WRONG] * 4, sandbox, max_iters=3)
    r = p.run(Request(STUB))
    assert not r.passed and r.iterations == 3 and len(code_calls(fake)) == 4
    assert r.code.strip() == WRONG.removesuffix("```").strip()


def test_second_repair_is_a_hinted_rewrite(sandbox):
    p, fake = pipeline([WRONG, WRONG, RIGHT], sandbox, max_iters=3)
    r = p.run(Request(STUB))
    assert r.passed and r.iterations == 2
    rewrite = code_calls(fake)[2]["messages"][-1]["content"]
    assert "return x * 3" not in rewrite and "Careful" in rewrite


def test_user_tests_in_cell_body_count(sandbox):
    p, _ = pipeline(["def inc(x):\n    return x + 1\n```"], sandbox)
    r = p.run(
        Request("write a function inc(x) that adds one", context="assert inc(1) == 2\nassert inc(-1) == 0")
    )
    assert r.passed and r.tests_total == 2


SQUARE = "write a function square(x) that returns x squared"


def square(body: str) -> str:
    return f"def square(x):\n    return {body}\n```"


def self_tested(replies, sandbox, task=SQUARE, entry="square", **settings):
    """The self-tested strategy on its own: a job with a scripted model and a real verifier."""
    fake = FakeLLM(replies)
    events = []
    cfg = LoopSettings(**{"candidates": 3, "max_iters": 0, **settings})
    job = Job(fake, cfg, Request(task), task, events.append, Verifier(sandbox))
    return SelfTested(job, Unit(task, entry, task_messages(task), [])), fake, events


def test_self_tested_believes_only_the_tests_most_candidates_pass(sandbox):
    # Two of the model's tests are wrong and agree with the (wrong) greedy candidate; the two
    # right candidates outvote them. Believing every test would keep the greedy one, believing
    # none would too: only dual agreement (group size x tests passed) picks a right one.
    tests = "2) == 5\nassert square(1) == 2\nassert square(3) == 9\n```"
    replies = [square("{2: 5, 1: 2}.get(x, 0)"), tests, square("x * x"), square("x ** 2")]
    strategy, fake, events = self_tested(replies, sandbox)
    try:
        best = strategy.solve()
    finally:
        strategy.job.verifier.reset()
    assert best.candidate.code.strip() == "def square(x):\n    return x * x" and best.candidate.index == 1
    assert best.report.outcomes == [False, False, True]
    assert best.evidence == "2 of 3 candidates behave alike; model-written tests: 1/3 agreed"
    calls = code_calls(fake)
    assert len(calls) == 4 and "assert statements" in calls[1]["messages"][-1]["content"]
    runs = [e for e in events if e.kind == "run"]
    assert [e.weak for e in runs] == [False, True, True, True]  # "does it run", then the model's tests
    assert len(strategy.job.result.attempts) == 3  # the greedy one's two runs are one attempt
    assert next(e for e in events if e.kind == "checks").sources == "model"


def test_self_tested_stops_when_the_greedy_passes_the_model_tests(sandbox):
    strategy, fake, _ = self_tested([square("x * x"), "2) == 4\nassert square(3) == 9\n```"], sandbox)
    try:
        best = strategy.solve()
    finally:
        strategy.job.verifier.reset()
    assert best.candidate.index == 0 and best.report.ok and len(code_calls(fake)) == 2
    assert best.evidence == "model-written tests: 2/2 agreed"


def test_self_tested_writes_no_tests_for_code_that_does_not_run(sandbox):
    crash = "def square(x):\n    return x * x\nundefined_name\n```"
    strategy, fake, _ = self_tested([crash, square("x * x")], sandbox, max_iters=1)
    try:
        best = strategy.solve()
    finally:
        strategy.job.verifier.reset()
    calls = code_calls(fake)
    assert len(calls) == 2 and "assert statements" not in calls[1]["messages"][-1]["content"]
    assert best.report.loaded and best.candidate.origin == "fix" and best.evidence == ""


def test_model_tests_contradicting_correct_code_leave_it_unverified(sandbox):
    # smallcode ask "write a function count_upper(s) ...": the model's own tests expect
    # count_upper('Python Programming') == 10 (and two more wrong values); the code is right.
    task = "write a function count_upper(s) that returns how many uppercase letters the string s contains"
    tests = (
        "'Python Programming') == 10\nassert count_upper('ABC') == 3\nassert count_upper('') == 0\n"
        "assert count_upper('abc') == 1\nassert count_upper('aB') == 2\n```"
    )

    def upper(body: str) -> str:
        return f"def count_upper(s):\n    return {body}\n```"

    right = upper("sum(1 for c in s if c.isupper())")
    replies = [
        right,
        tests,
        upper("len([c for c in s if c.isupper()])"),
        upper("sum(c.isupper() for c in s)"),
        upper("len(s)"),
        upper("sum(map(str.isupper, s))"),
    ]
    events = []
    p, fake = pipeline(replies, sandbox, events, candidates=5, max_iters=2)
    r = p.run(Request(task))
    assert len(code_calls(fake)) == 6  # greedy, tests, four samples, no repair
    assert r.code.strip() == right.removesuffix(
        "\n```"
    )  # len(s) passes 3/5 of the model's tests, but four candidates agree on 2/5
    agreed = "4 of 5 candidates behave alike; model-written tests: 2/5 agreed"
    assert r.passed is None and r.evidence == agreed
    assert (r.tests_passed, r.tests_total, r.failure) == (2, 5, "")
    assert f"unverified ({agreed})" in r.summary() and "FAILED" not in r.summary()
    done = events[-1]
    assert done.kind == "done" and done.passed is None


def test_untested_code_that_runs_is_unverified_not_passed(sandbox):
    p, fake = pipeline(["x = 1\n```"], sandbox, max_iters=2)
    r = p.run(Request("set x to one"))  # no function to test: only "does it run"
    assert r.passed is None and r.evidence == "ran without error; no tests" and len(fake.calls) == 1
    assert "unverified" in r.summary()


def test_model_tests_not_used_when_docstring_has_examples(sandbox):
    p, fake = pipeline([RIGHT], sandbox)
    p.run(Request(STUB))
    assert all("assert statements" not in c["messages"][-1]["content"] for c in fake.calls)


def test_no_run_generates_only(sandbox):
    p, _ = pipeline([WRONG], sandbox)
    r = p.run(Request(STUB, run=False))
    assert r.passed is None and "x * 3" in r.code


def test_code_that_crashes_the_kernel_is_survived(sandbox):
    p, _ = pipeline(["import os\nos._exit(1)\n```", RIGHT], sandbox, max_iters=1)
    r = p.run(Request(STUB))
    assert r.passed


def test_interrupt_stops_the_loop_and_sandbox_survives(sandbox):
    def boom(_messages):
        raise KeyboardInterrupt

    p, _ = pipeline([WRONG, boom], sandbox, max_iters=2)
    req = Request(STUB)
    with pytest.raises(KeyboardInterrupt):
        p.run(req)
    assert req.cancel.is_set()
    assert sandbox.run("1 + 1").stdout.strip() == "2"


def test_cancel_event_returns_best_so_far(sandbox):
    req = Request(STUB)

    def cancel_then_wrong(_messages):
        req.cancel.set()
        return WRONG

    p, fake = pipeline([cancel_then_wrong, RIGHT], sandbox, candidates=3, max_iters=2)
    r = p.run(req)
    assert r.cancelled and len(fake.calls) == 1 and not r.passed


FLASK = "write a REST API in Flask with routes, models, auth middleware and error handlers"
PLAN = {
    "parts": [
        {
            "name": "routes",
            "signature": "def register_routes(app)",
            "purpose": "add the endpoints",
            "depends": ["User", "require_auth"],
        },
        {"name": "User", "signature": "class User", "purpose": "the user model", "depends": []},
        {
            "name": "require_auth",
            "signature": "def require_auth(f)",
            "purpose": "auth decorator",
            "depends": ["User"],
        },
        {
            "name": "errors",
            "signature": "def register_errors(app)",
            "purpose": "error handlers",
            "depends": [],
        },
    ]
}


def test_decomposition_calls_each_part_in_dependency_order(sandbox):
    assert not is_atomic(FLASK) and is_atomic(STUB) and is_atomic("write add(a, b)")
    parts = {
        "class User": "class User:\n    def __init__(self, name):\n        self.name = name\n```",
        "def require_auth(f)": "import functools\n\ndef require_auth(f):\n    @functools.wraps(f)\n    def w(*a):\n        return f(*a)\n    return w\n```",
        "def register_routes(app)": "import functools\n\ndef register_routes(app):\n    return [User, require_auth]\n```",
        "def register_errors(app)": "def register_errors(app):\n    return {404: 'not found'}\n```",
    }

    def part_reply(messages):
        text = messages[-1]["content"]
        return next(v for k, v in parts.items() if f"Write `{k}`" in text)

    events = []
    p, fake = pipeline([json.dumps(PLAN)] + [part_reply] * 4, sandbox, events, decompose=True)
    r = p.run(Request(FLASK, context="assert register_errors(None)[404] == 'not found'"))
    assert fake.calls[0]["json_schema"] == plan_prompts.SCHEMA and fake.calls[0]["grammar"] is None
    asked = [c["messages"][-1]["content"] for c in fake.calls[1:]]
    order_seen = [k for a in asked for k in parts if f"Write `{k}`" in a]
    assert order_seen == [
        "class User",
        "def require_auth(f)",
        "def register_routes(app)",
        "def register_errors(app)",
    ]
    assert "class User" in asked[1] and "already exist" in asked[1]  # dependency signatures shown
    assert "register_errors" in asked[0] and "error handlers" in asked[0]  # the plan, not the others' code
    assert r.subtasks == ["User", "require_auth", "routes", "errors"]
    assert r.code.count("import functools") == 1 and r.code.index("class User") < r.code.index(
        "def register_routes"
    )
    assert r.passed and [e.kind for e in events].count("plan") == 1


def test_unusable_plan_falls_back_to_one_call(sandbox):
    p, _ = pipeline(['{"parts": []}', "x = 1\n```"], sandbox, decompose=True)
    r = p.run(Request(FLASK, run=False))
    assert r.subtasks == [] and r.code.strip() == "x = 1"


def test_plan_schema_accepts_plans_and_keeps_the_old_grammars_language():
    jsonschema.validate(PLAN, plan_prompts.SCHEMA)
    for bad in (
        {"parts": PLAN["parts"][:1]},
        {"parts": [{**PLAN["parts"][0], "name": "9x"}] * 2},
        {"parts": [{**PLAN["parts"][0], "purpose": "two\nlines"}] * 2},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, plan_prompts.SCHEMA)
    grammar = json_grammar(plan_prompts.SCHEMA)  # what llama.cpp is given
    assert "space ::= [ \\t\\n]{0,4}" in grammar  # indented JSON, as the 0.5B writes its plans
    assert '::= [^"\\\\\\n]' in grammar  # one-line texts without quotes or escapes


def test_plan_helpers():
    parts = parse_plan(json.dumps(PLAN))
    assert [p.name for p in parts] == ["User", "require_auth", "routes", "errors"]
    cyc = parse_plan(
        '{"parts": [{"name": "a", "signature": "a()", "purpose": "x", "depends": ["b"]},'
        '{"name": "b", "signature": "b()", "purpose": "y", "depends": ["a", "zzz"]}]}'
    )
    assert sorted(p.name for p in order(cyc)) == ["a", "b"] and cyc[0].depends in (["a"], [])
    assert (
        assemble(
            ["import os\ndef f():\n    pass", "import os\ndef f():\n    return 1\ndef g():\n    pass"]
        ).count("def f")
        == 1
    )


def test_gather_checks_sources():
    checks = gather_checks(STUB, "assert double(0) == 0", "double")
    assert {c.source for c in checks} == {"user", "docstring"} and len(checks) == 3


def test_empty_task_is_rejected(sandbox):
    p, _ = pipeline([], sandbox)
    with pytest.raises(ValueError, match="empty task"):
        p.run(Request("  "))
    with pytest.raises(ValueError, match="characters"):
        p.run(Request("write " + "x " * 500_000))


def test_failing_part_is_rewritten_alone(sandbox):
    plan = {
        "parts": [
            {
                "name": "words",
                "signature": "def words(text)",
                "purpose": "split into lowercase words",
                "depends": [],
            },
            {
                "name": "count",
                "signature": "def count(text)",
                "purpose": "number of words",
                "depends": ["words"],
            },
        ]
    }
    replies = [
        json.dumps(plan),
        "def words(text):\n    return text.split()\n```",
        "def count(text):\n    return len(words(text))\n```",
        "def words(text):\n    return text.lower().split()\n```",  # the rewrite of `words` only
    ]
    task = "write a module with a function words(text) that splits text into lowercase words, and a function count(text) that counts them"
    p, fake = pipeline(replies, sandbox, decompose=True, max_iters=2)
    r = p.run(Request(task, context="assert words('A b') == ['a', 'b']\nassert count('a b c') == 3"))
    assert r.passed and r.iterations == 1 and len(fake.calls) == 4
    rewrite_prompt = fake.calls[3]["messages"][-1]["content"]
    assert "Write `def words(text)`" in rewrite_prompt and "expected ['a', 'b']" in rewrite_prompt
    assert "def count(text)" in r.code and "lower()" in r.code


def test_retrieved_helpers_are_shown_and_imported(tmp_path):
    from smallcode_jupyter.context.types import Snippet

    (tmp_path / "shoplib").mkdir()
    (tmp_path / "shoplib" / "__init__.py").write_text("")
    (tmp_path / "shoplib" / "money.py").write_text("def to_cents(x):\n    return round(x * 100)\n")

    class Provider:
        def retrieve(self, query, k=8):
            return [Snippet("from shoplib.money import to_cents\ndef to_cents(x): ...", "shoplib/money.py:1")]

    events = []
    fake = FakeLLM(["def price(x):\n    return to_cents(x) + 1\n```"])
    with Sandbox(timeout=10, project=tmp_path) as sb:
        p = Pipeline(
            fake, LoopSettings(candidates=1, max_iters=0), sink=events.append, sandbox=sb, context=Provider()
        )
        r = p.run(
            Request(
                "write a function price(x) that returns to_cents(x) + 1", context="assert price(1.5) == 151"
            )
        )
    assert "shoplib/money.py:1" in r.sources and any(e.kind == "context" for e in events)
    assert "from shoplib.money import to_cents" in fake.calls[0]["messages"][-1]["content"]
    assert r.code.startswith("from shoplib.money import to_cents") and r.passed
