"""Turn what a user gives (task text, a prompt's docstring, a cell body) into runnable checks.

Checks are most of the agent loop's signal, so this package errs on the side of
*no* check over a *wrong* check: a wrong check makes the loop "repair" correct
code.  Only user-visible material is used (prompt/docstring examples, tests the
user wrote, asserts a model wrote) -- never a benchmark's hidden tests.

Harness contract (the prelude approach; ``loop/harness.py`` implements it)
--------------------------------------------------------------------------
1. ``exec`` the candidate code in a namespace ``ns`` (module level).
2. ``exec(CHECK_PRELUDE, ns)`` once.  It only defines ``_sc_*`` helpers
   (``prelude.py``) and imports nothing but the stdlib.
3. For each check, ``exec(check.code, ns)`` at module level (a copy of ``ns``
   or a subprocess per check is fine; helpers that take ``globals()`` are given
   the check's own namespace).  Any exception means the check failed; the
   ``AssertionError`` message says what was expected and what came back.

``check.code`` is usually a single line ``assert _sc_eq(_sc_got := (CALL), EXPECTED), msg``
optionally preceded by setup lines taken from the same doctest block
(``>>> x = ...``) or needed top-level assignments/imports.  ``_sc_eq`` is
``==`` except that floats (also inside lists/tuples/dicts) compare with
``math.isclose(rel_tol=1e-6, abs_tol=1e-9)`` -- the same thing a doctest's
``repr`` comparison means, without its formatting brittleness.

Modules: ``check`` (the Check type, its builders, the prelude's source), ``prelude``,
``literals`` (values in examples), ``targets`` (which functions an example may call),
``doctests``, ``statements`` (asserts and test functions), ``prose``, ``named`` (named
examples) and ``extract`` (the entry points below).
"""

from .check import CHECK_PRELUDE, HELPER_NAMES, Check, dedupe
from .extract import checks_from_model_output, extract_checks, user_checks

__all__ = [
    "CHECK_PRELUDE",
    "HELPER_NAMES",
    "Check",
    "checks_from_model_output",
    "dedupe",
    "extract_checks",
    "user_checks",
]
