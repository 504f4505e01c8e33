"""End to end on the real Qwen2.5-Coder-0.5B: notebook tasks proven on copies of the live
variables, then inserted and run in the user's shell."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.model


@pytest.fixture
def nb(shell):
    """The shell with the real 0.5B and a record of what smallcode inserts."""
    shell.run_line_magic("config", "SmallcodeMagics.model = 'qwen2.5-coder-0.5b'")
    inserted: list[str] = []
    shell.set_next_input = lambda text, replace=False: inserted.append(text)
    return shell, inserted


def cell(shell, src: str):
    result = shell.run_cell(src, store_history=True)
    result.raise_error()
    return result


def test_a_dataframe_task_passes_on_the_copy_and_gives_the_right_value(nb):
    shell, inserted = nb
    cell(
        shell,
        "import pandas as pd\n"
        "people = pd.DataFrame({'name': ['Ann', 'Bo', 'Cy', 'Di'], 'age': [34, 17, 52, 15]})",
    )
    before = shell.user_ns["people"].copy()
    cell(shell, "%%smallcode compute the mean of the age column of people into a variable mean_age")
    assert inserted, "nothing was inserted"
    assert "pd.DataFrame(" not in inserted[-1]  # the user's data is used, not re-created
    assert shell.user_ns["people"].equals(before) and "mean_age" not in shell.user_ns
    cell(shell, inserted[-1])
    assert shell.user_ns["mean_age"] == pytest.approx(29.5)


def test_a_task_uses_a_helper_defined_in_an_earlier_cell(nb):
    shell, inserted = nb
    cell(
        shell,
        "def clean(name):\n    '''Strip spaces and capitalise.'''\n    return name.strip().capitalize()",
    )
    cell(shell, "names = ['  ann', 'BO ', ' cy ']")
    cell(shell, "%%smallcode apply clean to every item of names into a new list cleaned")
    assert inserted
    assert "def clean" not in inserted[-1] or "clean(" in inserted[-1]
    cell(shell, inserted[-1])
    assert shell.user_ns["cleaned"] == ["Ann", "Bo", "Cy"]
    assert shell.user_ns["names"] == ["  ann", "BO ", " cy "]


def test_fix_repairs_the_cell_that_raised(nb):
    shell, inserted = nb
    cell(shell, "prices = {'apple': 1.5, 'pear': 2.0}")
    failed = shell.run_cell("total = prices['apple'] + prices['banana']", store_history=True)
    assert failed.error_in_exec is not None
    cell(shell, "%smallcode fix")
    assert inserted
    fixed = inserted[-1]
    assert not fixed.startswith("# smallcode")  # it ran on the copies without the error
    cell(shell, fixed)
    assert "total" in shell.user_ns and shell.user_ns["prices"] == {"apple": 1.5, "pear": 2.0}
