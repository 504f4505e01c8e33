"""A cell that raised, as the model sees it: its traceback without colour codes and IPython's
own frames, cut to a budget (``%smallcode fix``)."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def trim_traceback(text: str, limit: int = 2000) -> str:
    """A traceback without colour codes and IPython's frames, cut to its last ``limit`` chars."""
    text = _ANSI.sub("", text)
    lines = [ln for ln in text.splitlines() if "site-packages/IPython/" not in ln]
    text = "\n".join(lines).strip()
    return text if len(text) <= limit else "...\n" + text[-limit:]


def format_error(error: BaseException) -> str:
    """The traceback of an exception a cell raised, trimmed for the model."""
    import traceback

    return trim_traceback("".join(traceback.format_exception(type(error), error, error.__traceback__)))
