"""The helpers every check may call, defined in the candidate's namespace before its checks run.

This file is not imported in the sandbox: its source (without this docstring) is sent as
``CHECK_PRELUDE`` and executed in the namespace the candidate ran in, once per candidate. So it
follows three rules that ordinary modules do not need:

- it binds only ``_sc_*`` names (a candidate's own names must survive; ``HELPER_NAMES`` is read
  from the functions defined here);
- no ``from __future__`` import: executed in the candidate's namespace it would bind
  ``annotations`` there;
- annotations are plain builtin names or strings, because they are evaluated when the functions
  are defined, in the candidate's globals (a candidate's ``dict = {}`` would break
  ``dict[str, object]``).
"""

import math as _sc_math


def _sc_eq(a: object, b: object) -> bool:
    """== but floats (also nested in lists/tuples/dicts) compare with tolerance."""
    if (isinstance(a, float) or isinstance(b, float)) and (
        isinstance(a, (int, float)) and isinstance(b, (int, float))
    ):
        return a == b or _sc_math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return (
            isinstance(a, list) == isinstance(b, list)
            and len(a) == len(b)
            and all(_sc_eq(x, y) for x, y in zip(a, b, strict=False))
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_sc_eq(a[k], b[k]) for k in a)
    r: object = a == b
    if isinstance(r, bool):
        return r
    try:  # numpy and friends compare element-wise
        return bool(r.all()) if hasattr(r, "all") else bool(r)
    except Exception:
        return False


def _sc_r(v: object) -> str:
    """A short repr for failure messages; never raises."""
    try:
        s = repr(v)
    except Exception as e:
        s = f"<unrepresentable {type(v).__name__}: {e}>"
    return s if len(s) <= 300 else s[:300] + "..."


def _sc_same(got: str, want: str) -> bool:
    """Printed-output comparison, whitespace-insensitive (doctest NORMALIZE_WHITESPACE)."""
    return got.split() == want.split()


def _sc_out(src: str, g: "dict[str, object]") -> str:
    """Run src like a doctest example in namespace g; return what it printed/displayed."""
    import ast
    import contextlib
    import io

    tree = ast.parse(src)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(tree, "<check>", "exec"), g)
        if isinstance(last, ast.Expr):
            v = eval(compile(ast.Expression(last.value), "<check>", "eval"), g)
            if v is not None:
                print(repr(v))
    return buf.getvalue()


def _sc_raises(src: str, g: "dict[str, object]", name: str) -> bool:
    """True if running src in namespace g raises an exception of class `name`."""
    try:
        exec(src, g)
    except Exception as e:
        return any(c.__name__ == name for c in type(e).__mro__)
    return False


class _sc_Behaviour(Exception):
    """Carries a probe's result out of the check that ran it: ``str(e)`` is its signature."""


def _sc_norm(v: object, depth: int = 0) -> str:
    """A canonical text of a value, equal for values a test's ``==`` would call equal in
    practice: floats to 6 significant digits (so 2.0 and 2 agree), sets and dict items sorted,
    iterators consumed (up to 200 items), objects without a stable repr by their type."""
    if depth > 6:
        return "..."
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, float):
        return format(v, ".6g")
    if isinstance(v, (int, str, bytes)):
        return repr(v)[:400]
    if isinstance(v, (list, tuple)):
        items = ", ".join(_sc_norm(x, depth + 1) for x in list(v)[:200])
        return f"[{items}]" if isinstance(v, list) else f"({items})"
    if isinstance(v, (set, frozenset)):
        return "{" + ", ".join(sorted(_sc_norm(x, depth + 1) for x in list(v)[:200])) + "}"
    if isinstance(v, dict):
        pairs = sorted(
            f"{_sc_norm(k, depth + 1)}: {_sc_norm(x, depth + 1)}" for k, x in list(v.items())[:200]
        )
        return "{" + ", ".join(pairs) + "}"
    if hasattr(v, "tolist"):
        try:
            return _sc_norm(v.tolist(), depth)
        except Exception:
            pass
    if hasattr(v, "__next__"):
        import itertools

        return "iter" + _sc_norm(list(itertools.islice(v, 200)), depth)  # type: ignore[call-overload]
    try:
        text = repr(v)
    except Exception:
        text = ""
    return type(v).__name__ + ("" if " at 0x" in text or not text else ":" + text[:200])


def _sc_behave(thunk: object, limit: float = 1.0) -> None:
    """Call ``thunk`` (a probe: the candidate on one input) and raise :class:`_sc_Behaviour`
    with what it did: ``=`` and the value's canonical text, or ``!`` and the exception's class.
    Probes get ``limit`` seconds each, less than a check, because a generated input may send
    a wrong candidate into a long loop."""
    import signal

    signal.setitimer(signal.ITIMER_REAL, limit)  # the harness runs checks in the main thread
    try:
        text = "=" + _sc_norm(thunk())  # type: ignore[operator]
    except BaseException as e:
        text = "!" + type(e).__name__
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if len(text) > 120:  # long values: a prefix to read and a digest of the whole to compare
        import hashlib

        text = text[:100] + " #" + hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
    raise _sc_Behaviour(text)
