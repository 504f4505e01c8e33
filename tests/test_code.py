"""Model reply → runnable candidate: the stub's imports, helpers and name are kept."""

import ast

from smallcode_jupyter.loop import pyast
from smallcode_jupyter.loop.code import complete_with_stub, defined_names, extract_code, strip_main

STUB = '''from typing import List


def sorted_list_sum(lst: List[str]) -> List[str]:
    """Drop odd-length strings and sort.
    assert list_sort(["aa", "a", "aaa"]) => ["aa"]
    """
'''


def _run(code: str) -> dict:
    ns: dict = {}
    exec(compile(code, "<candidate>", "exec"), ns)
    return ns


def test_missing_import_comes_from_the_stub():
    code = complete_with_stub(
        "def sorted_list_sum(lst: List[str]):\n    return lst\n", STUB, "sorted_list_sum"
    )
    assert code.startswith("from typing import List") and _run(code)["sorted_list_sum"](["a"]) == ["a"]


def test_body_only_reply_gets_the_stub_in_front():
    code = complete_with_stub("    return sorted(lst)\n", STUB, "sorted_list_sum")
    assert _run(code)["sorted_list_sum"](["b", "a"]) == ["a", "b"]


def test_renamed_function_keeps_the_stubs_name():
    """HumanEval/149: the examples call ``list_sort``, and the 0.5B model renamed the function."""
    code = complete_with_stub("def list_sort(lst):\n    return sorted(lst)\n", STUB, "sorted_list_sum")
    ns = _run(code)
    assert ns["sorted_list_sum"](["b", "a"]) == ["a", "b"] and ns["list_sort"] is ns["sorted_list_sum"]


def test_no_alias_when_ambiguous_or_different_parameters():
    two = "def helper(lst):\n    return lst\n\n\ndef list_sort(lst):\n    return helper(lst)\n"
    assert "sorted_list_sum =" not in complete_with_stub(two, STUB, "sorted_list_sum")
    other = "def list_sort(items, reverse):\n    return items\n"
    assert "sorted_list_sum =" not in complete_with_stub(other, STUB, "sorted_list_sum")


def test_strip_main_drops_demo_code():
    code = "def f():\n    return 1\n\nassert f() == 2\n\nif __name__ == '__main__':\n    print(f())\n"
    assert strip_main(code).strip() == "def f():\n    return 1"


def test_main_guard_in_either_order():
    for guard in ("__name__ == '__main__'", "'__main__' == __name__"):
        code = f"def f():\n    return 1\n\nif {guard}:\n    print(f())\n"
        assert strip_main(code).strip() == "def f():\n    return 1"
        body = ast.parse(code).body
        assert [type(n).__name__ for n in pyast.inline_main(body)] == ["FunctionDef", "Expr"]
    assert not pyast.is_main_guard(ast.parse("if f.__name__ == 'g':\n    pass").body[0])


def test_fenced_code_in_a_reply():
    reply = "Sure:\n```python title=f.py\ndef f():\n    return 1\n```\nand\n```\nx = 1\n```\n"
    assert pyast.fenced_blocks(reply) == ["def f():\n    return 1\n", "x = 1\n"]
    assert extract_code(reply, prefilled=False) == "def f():\n    return 1"
    assert extract_code("```py\nx = 2", prefilled=False) == "x = 2"  # cut off by the token limit
    assert extract_code("x = 3\n```\nprose", prefilled=True) == "x = 3"


def test_names_a_candidate_defines_and_needs():
    code = "import os\nclass A:\n    def m(self):\n        return y\nasync def g(a):\n    return a + z\n"
    assert defined_names(code) == {"A", "g"}
    assert defined_names("def f(:") == set()
    tree = ast.parse(code)
    assert pyast.free_names([tree]) == {"y", "z"}
    assert pyast.called_names([ast.parse("a.b.c(1) + f(2)")]) == {"a", "f"}


def test_def_line_of_a_name():
    code = "import os\n\n\nclass Acc:\n    pass\n\n\nasync def fetch(url, *, retries=3):\n    return url\n"
    assert pyast.def_line(code, "fetch") == "async def fetch(url, *, retries=3)"
    assert pyast.def_line(code, "Acc") == "class Acc"
    assert pyast.def_line(code, "os") == ""
