"""Model reply → runnable candidate: the stub's imports, helpers and name are kept."""

from smallcode_jupyter.loop.code import complete_with_stub, strip_main

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
    code = complete_with_stub("def sorted_list_sum(lst: List[str]):\n    return lst\n", STUB, "sorted_list_sum")
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
